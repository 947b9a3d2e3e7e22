"""The plain valid order body, recognised without marshmallow's field machinery.

Nearly every ``POST /orders`` carries a body like ``{"items": [{"sku": "KB-001",
"quantity": 2}]}``. ``load`` accepts only bodies of exactly that shape
whose every value is surely valid (canonical uuids, in-range whole numbers, valid SKUs), and
returns what ``OrderIn`` would load; for anything else it returns None and ``OrderIn.load``
hands the body to marshmallow, which knows how to say what is wrong. It may refuse a valid
body, never accept an invalid one: ``tests/unit/test_orders_fast_path.py`` checks that against
marshmallow itself. It is part of ``OrderIn.load``, so the route is served as every other
(APIFlask's ``@input``); counted with callgrind, it takes a tenth of a ``POST /orders``'s
instructions off (docs/performance.md).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from order_platform.domain.catalog import sku_problem
from order_platform.domain.orders import MAX_LINE_QUANTITY, MAX_LINES, OrderItem

CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""A uuid as ``str(uuid.UUID(...))`` writes it: the one spelling taken here."""
_ORDER = frozenset({"items"})
_BY_SKU = frozenset({"sku", "quantity"})
_BY_ID = frozenset({"product_id", "quantity"})


def load(data: Any) -> dict[str, Any] | None:
    """``OrderIn().load(data)`` for a plainly valid body; None when unsure."""
    if type(data) is not dict or data.keys() != _ORDER:
        return None
    items = data["items"]
    if type(items) is not list or not 1 <= len(items) <= MAX_LINES:
        return None
    loaded = []
    for item in items:
        line = _item(item)
        if line is None:
            return None
        loaded.append(line)
    return {"items": loaded}


def _item(item: Any) -> OrderItem | None:
    if type(item) is not dict:
        return None
    quantity = item.get("quantity")
    if type(quantity) is not int or not 1 <= quantity <= MAX_LINE_QUANTITY:
        return None
    keys = item.keys()
    if keys == _BY_SKU:
        sku = item["sku"]
        # sku_problem admits ASCII letters, digits and '._-' only: no control characters,
        # no surrogates, so the Text field's own checks have nothing left to refuse.
        if type(sku) is str and sku_problem(sku) is None:
            return OrderItem(quantity=quantity, sku=sku)
    elif keys == _BY_ID:
        product_id = item["product_id"]
        if type(product_id) is str and CANONICAL_UUID.fullmatch(product_id):
            return OrderItem(quantity=quantity, product_id=uuid.UUID(product_id))
    return None
