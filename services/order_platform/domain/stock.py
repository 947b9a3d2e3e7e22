"""Stock as the consumers see it: what an order wants, and what it cannot have."""

from __future__ import annotations

from dataclasses import dataclass

INSUFFICIENT_STOCK = "insufficient_stock"
UNKNOWN_PRODUCT = "unknown_product"


class OrderMissing(Exception):
    """An event names an order the writer does not have (yet); retry, then DLQ."""


@dataclass(frozen=True)
class Shortage:
    """One product an order cannot have."""

    product_id: str
    requested: int
    available: int | None
    """None when the product is unknown."""
    sku: str | None = None

    def describe(self) -> str:
        """Human-readable, for the order's rejection reason."""
        if self.available is None:
            return f"product {self.product_id} is unknown"
        return (f"{self.sku or self.product_id}: requested {self.requested}, "
                f"available {self.available}")


def rejection(shortages: list[Shortage]) -> tuple[str, str]:
    """The rejection code and the reason text for an order short of ``shortages``."""
    code = UNKNOWN_PRODUCT if any(s.available is None for s in shortages) else INSUFFICIENT_STOCK
    return code, f"{code}: " + "; ".join(s.describe() for s in shortages)


def shortages_in(wanted: dict[str, int],
                 stock: dict[str, tuple[int, str | None]]) -> list[Shortage]:
    """The products of ``wanted`` that ``stock`` (id -> (stock, sku)) cannot fill, in id order."""
    found = []
    for product_id in sorted(wanted):
        if product_id not in stock:
            found.append(Shortage(product_id, wanted[product_id], None))
        elif stock[product_id][0] < wanted[product_id]:
            found.append(Shortage(product_id, wanted[product_id], *stock[product_id]))
    return found
