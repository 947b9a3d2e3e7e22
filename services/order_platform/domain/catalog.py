"""Catalogue rules: SKUs, product references and stock bounds."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from enum import StrEnum

INT32_MAX = 2_147_483_647
"""Prices and stock are PostgreSQL ``integer`` columns."""
MAX_STOCK = INT32_MAX
MAX_PRICE_CENTS = INT32_MAX

SKU_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""Letters, digits, '.', '_', '-'; 1 to 64 characters; starts with a letter or digit."""

# The canonical textual form of a uuid. A SKU may not take this shape, so that
# ``/products/{id|sku}`` is never ambiguous.
_UUID_SHAPE = re.compile(r"[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")


class RestockMode(StrEnum):
    """How a restock changes stock."""

    SET = "set"
    ADD = "add"


def sku_problem(sku: str) -> str | None:
    """Why ``sku`` is not a valid SKU, or None when it is."""
    if _UUID_SHAPE.fullmatch(sku):
        return "must not have the shape of a uuid (it would be read as a product id)"
    if not SKU_PATTERN.fullmatch(sku):
        return "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    return None


@dataclass(frozen=True)
class ProductRef:
    """A product named either by id or by SKU."""

    product_id: uuid.UUID | None = None
    sku: str | None = None

    @classmethod
    def parse(cls, text: str) -> ProductRef | None:
        """Read ``/products/{id|sku}``: a uuid is an id, else a SKU; None when neither."""
        if _UUID_SHAPE.fullmatch(text):
            return cls(product_id=uuid.UUID(text))
        if sku_problem(text) is None:
            return cls(sku=text)
        return None

    def __str__(self) -> str:
        return str(self.product_id) if self.product_id is not None else str(self.sku)
