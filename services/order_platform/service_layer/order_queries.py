"""Order reads on the reader endpoint: one order with its lines and history, or a page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from order_platform.adapters.db import Database
from order_platform.domain.errors import OrderNotFound
from order_platform.service_layer import pagination

_SUMMARY = "id, seq, customer_id, status, rejection_reason, total_cents, created_at, updated_at"

# One statement, so order, lines and history come from one snapshot: a status that
# changes meanwhile cannot show up in the order but not yet in its history.
_ORDER_DETAIL = f"""
SELECT {_SUMMARY},
  COALESCE((SELECT json_agg(json_build_object(
              'line_no', l.line_no, 'product_id', l.product_id, 'sku', p.sku,
              'quantity', l.quantity, 'unit_price_cents', l.unit_price_cents)
            ORDER BY l.line_no)
            FROM order_lines l JOIN products p ON p.id = l.product_id
            WHERE l.order_id = o.id), '[]') AS lines,
  COALESCE((SELECT json_agg(json_build_object(
              'status', h.status, 'reason', h.reason, 'occurred_at', h.occurred_at)
            ORDER BY h.id)
            FROM order_status_history h WHERE h.order_id = o.id), '[]') AS history
FROM orders o WHERE o.id = %s
"""


@dataclass(frozen=True)
class OrderFilters:
    """What a client may filter the order list by."""

    customer_id: str | None = None
    status: str | None = None

    def scope(self) -> str:
        """The fingerprint a cursor for this list carries."""
        return pagination.scope_of(customer_id=self.customer_id, status=self.status)


@dataclass(frozen=True)
class Page:
    """One page of a keyset-paginated list."""

    items: list[dict[str, Any]]
    next_cursor: str | None


def get_order(db: Database, order_id: uuid.UUID) -> dict[str, Any]:
    """The order with lines, total and status history; OrderNotFound if the reader lacks it."""
    with db.statement() as cur:  # one statement, one snapshot
        cur.execute(_ORDER_DETAIL, (order_id,))
        order = cur.fetchone()
    if order is None:
        raise OrderNotFound(str(order_id))
    order = dict(order)
    for line in order["lines"]:
        line["line_total_cents"] = line["quantity"] * line["unit_price_cents"]
    for entry in order["history"]:
        entry["occurred_at"] = datetime.fromisoformat(entry["occurred_at"])
    return order


def list_orders(db: Database, filters: OrderFilters, *, limit: int,
                cursor: pagination.Cursor | None = None) -> Page:
    """Newest orders first, keyset on ``orders.seq``.

    ``seq`` only grows, so orders inserted while a client pages through have a
    higher seq than its cursor and never shift or repeat the rows it has yet to see.
    """
    conditions, params = [], []
    if filters.customer_id is not None:
        conditions.append("customer_id = %s")
        params.append(filters.customer_id)
    if filters.status is not None:
        conditions.append("status = %s")
        params.append(filters.status)
    if cursor is not None:
        conditions.append("seq < %s")
        params.append(cursor.after)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    with db.statement() as cur:
        cur.execute(f"SELECT {_SUMMARY} FROM orders {where} ORDER BY seq DESC LIMIT %s",
                    (*params, limit + 1))
        rows = [dict(r) for r in cur.fetchall()]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = pagination.encode(
            pagination.Cursor(kind="orders", after=rows[-1]["seq"], scope=filters.scope()))
    return Page(items=rows, next_cursor=next_cursor)
