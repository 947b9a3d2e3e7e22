"""Stock validation and inventory update: the two consumers of the order pipeline.

Every handler writes its dedupe row, its status change, the history row and its
outbox event in ONE writer transaction, so a redelivered message finds the dedupe
row and changes nothing. The reader is consulted only as an early, advisory check;
the decision to sell is the writer's conditional decrement.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from order_platform import topology
from order_platform.adapters import outbox
from order_platform.adapters.db import Database
from order_platform.adapters.processed_events import record_first_delivery
from order_platform.adapters.queues import PoisonMessage
from order_platform.domain.model import OrderStatus, can_transition

log = logging.getLogger(__name__)

VALIDATION_CONSUMER = topology.STOCK_VALIDATION_QUEUE.consumer
INVENTORY_CONSUMER = topology.INVENTORY_UPDATE_QUEUE.consumer

INSUFFICIENT_STOCK = "insufficient_stock"
UNKNOWN_PRODUCT = "unknown_product"


class Outcome(StrEnum):
    """What a handler did with one event."""

    STOCK_VALIDATED = "STOCK_VALIDATED"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    DUPLICATE = "DUPLICATE"
    """Already processed: acknowledged without effect."""
    STALE = "STALE"
    """The order is no longer in the status this event acts on: recorded, no effect."""


class OrderMissing(Exception):
    """The event names an order the writer does not have (yet); retry, then DLQ."""


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


def requested_quantities(lines: Any) -> dict[str, int]:
    """Quantity per product id (lines for the same product add up); poison if malformed."""
    if not isinstance(lines, list) or not lines:
        raise PoisonMessage("detail.lines must be a non-empty list")
    wanted: dict[str, int] = {}
    for line in lines:
        try:
            product_id, quantity = str(line["product_id"]), int(line["quantity"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PoisonMessage(f"malformed order line {line!r}") from exc
        if quantity < 1:
            raise PoisonMessage(f"non-positive quantity in {line!r}")
        wanted[product_id] = wanted.get(product_id, 0) + quantity
    return wanted


def find_shortages(cur, wanted: dict[str, int]) -> list[Shortage]:
    """Compare ``wanted`` with the stock ``cur`` sees (no locks); products in id order."""
    cur.execute("SELECT id::text AS id, sku, stock FROM products WHERE id = ANY(%s::uuid[])",
                (list(wanted),))
    stock = {row["id"]: row for row in cur.fetchall()}
    shortages = []
    for product_id in sorted(wanted):
        row = stock.get(product_id)
        if row is None:
            shortages.append(Shortage(product_id, wanted[product_id], None))
        elif row["stock"] < wanted[product_id]:
            shortages.append(Shortage(product_id, wanted[product_id], row["stock"], row["sku"]))
    return shortages


def validate_order_stock(writer: Database, reader: Database, event_id: str,
                         detail: dict[str, Any]) -> Outcome:
    """Handle OrderCreated: StockValidated, or REJECTED + OrderRejected."""
    order_id = _order_id(detail)
    wanted = requested_quantities(detail.get("lines"))
    with reader.transaction() as cur:
        advisory = find_shortages(cur, wanted)
    with writer.transaction() as cur:
        if not record_first_delivery(cur, VALIDATION_CONSUMER, event_id):
            return Outcome.DUPLICATE
        status = _lock_order(cur, order_id)
        if status is not OrderStatus.PENDING:
            return Outcome.STALE
        # The reader may lag the writer (a product just created or restocked): a "no"
        # from the reader is confirmed on the writer before it becomes final.
        shortages = find_shortages(cur, wanted) if advisory else []
        if shortages:
            _reject(cur, order_id, status, shortages)
            return Outcome.REJECTED
        _move(cur, order_id, status, OrderStatus.STOCK_VALIDATED)
        outbox.add_event(cur, topology.STOCK_VALIDATED,
                         {"order_id": order_id, "lines": detail["lines"]})
        return Outcome.STOCK_VALIDATED


def update_inventory(writer: Database, event_id: str, detail: dict[str, Any]) -> Outcome:
    """Handle StockValidated: deduct every line or none; CONFIRMED or REJECTED."""
    order_id = _order_id(detail)
    with writer.transaction() as cur:
        if not record_first_delivery(cur, INVENTORY_CONSUMER, event_id):
            return Outcome.DUPLICATE
        status = _lock_order(cur, order_id)
        if status is not OrderStatus.STOCK_VALIDATED:
            return Outcome.STALE
        # The order's own lines on the writer are authoritative, not the event's copy.
        cur.execute("SELECT product_id::text AS product_id, quantity, unit_price_cents "
                    "FROM order_lines WHERE order_id = %s ORDER BY line_no", (order_id,))
        lines = cur.fetchall()
        wanted = requested_quantities(lines)
        # One fixed lock order (product id) for every order: two orders that share
        # products queue behind each other instead of deadlocking.
        cur.execute("SELECT id FROM products WHERE id = ANY(%s::uuid[]) ORDER BY id FOR UPDATE",
                    (list(wanted),))
        cur.execute("SAVEPOINT deduct")
        short = False
        for product_id in sorted(wanted):
            cur.execute("UPDATE products SET stock = stock - %s, updated_at = now() "
                        "WHERE id = %s AND stock >= %s", (wanted[product_id], product_id,
                                                          wanted[product_id]))
            short = short or cur.rowcount != 1
        if short:
            # All or nothing: undo the lines that did fit, then say which did not.
            cur.execute("ROLLBACK TO SAVEPOINT deduct")
            _reject(cur, order_id, status, find_shortages(cur, wanted))
            return Outcome.REJECTED
        cur.execute("RELEASE SAVEPOINT deduct")
        _move(cur, order_id, status, OrderStatus.CONFIRMED)
        outbox.add_event(cur, topology.INVENTORY_UPDATED, {
            "order_id": order_id,
            "lines": [{**line, "quantity": int(line["quantity"])} for line in lines],
        })
        return Outcome.CONFIRMED


def _order_id(detail: dict[str, Any]) -> str:
    order_id = detail.get("order_id")
    if not isinstance(order_id, str) or not order_id:
        raise PoisonMessage("detail.order_id is missing")
    return order_id


def _lock_order(cur, order_id: str) -> OrderStatus:
    cur.execute("SELECT status FROM orders WHERE id = %s FOR UPDATE", (order_id,))
    row = cur.fetchone()
    if row is None:
        raise OrderMissing(f"order {order_id} not found on the writer")
    return OrderStatus(row["status"])


def _move(cur, order_id: str, current: OrderStatus, target: OrderStatus,
          reason: str | None = None) -> None:
    if not can_transition(current, target):
        raise ValueError(f"order {order_id}: {current} -> {target} is not allowed")
    cur.execute("UPDATE orders SET status = %s, rejection_reason = %s, updated_at = now() "
                "WHERE id = %s", (target.value, reason, order_id))
    cur.execute("INSERT INTO order_status_history (order_id, status, reason) "
                "VALUES (%s, %s, %s)", (order_id, target.value, reason))
    log.info("order status changed", extra={"from": current.value, "to": target.value})


def _reject(cur, order_id: str, current: OrderStatus, shortages: list[Shortage]) -> None:
    code = UNKNOWN_PRODUCT if any(s.available is None for s in shortages) else INSUFFICIENT_STOCK
    reason = f"{code}: " + "; ".join(s.describe() for s in shortages)
    _move(cur, order_id, current, OrderStatus.REJECTED, reason)
    outbox.add_event(cur, topology.ORDER_REJECTED, {
        "order_id": order_id, "reason": code,
        "details": [asdict(s) for s in shortages],
    })
