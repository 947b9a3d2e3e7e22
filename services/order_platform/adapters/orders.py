"""Orders, their lines and status history, and Idempotency-Keys, on PostgreSQL."""

from __future__ import annotations

import uuid

from order_platform.adapters.session import Session
from order_platform.domain.model import OrderStatus
from order_platform.domain.orders import OrderLine, OrderReceipt, RememberedRequest
from order_platform.service_layer.unit_of_work import Orders, Row

# The statements, named: bench/bare_app.py and bench/bare_worker.py run these same ones.
# The order, its lines and its first history row in ONE statement, all at the order's time.
ADD_ORDER = """WITH new_order AS (
    INSERT INTO orders (id, customer_id, status, total_cents, created_at, updated_at)
    VALUES (%s, %s, %s, %s, %s, %s)
), lines AS (
    INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price_cents)
    SELECT %s, * FROM unnest(%s::int[], %s::uuid[], %s::int[], %s::int[])
)
INSERT INTO order_status_history (order_id, status, occurred_at) VALUES (%s, %s, %s)"""
RECEIPT = "SELECT customer_id, total_cents, created_at FROM orders WHERE id = %s"
RECEIPT_LINES = ("SELECT l.line_no, l.product_id, p.sku, l.quantity, l.unit_price_cents "
                 "FROM order_lines l JOIN products p ON p.id = l.product_id "
                 "WHERE l.order_id = %s ORDER BY l.line_no")
# Two requests racing with one key queue on this lock until the holder commits; the second
# then finds the first's row instead of creating a second order. A hash collision only
# serialises two unrelated keys, which is harmless. The first half of the two-int key is a
# namespace, so these locks cannot collide with other advisory locks.
LOCK_KEY_NAMESPACE = 0x1DE0
# Locked by the key alone, although keys are per customer: two customers who picked the same
# key only wait for each other, and the API version before keys were per customer takes the
# same lock, so a key retried during the rollout is serialised whichever pod it reaches.
LOCK_KEY = "SELECT pg_advisory_xact_lock(%s, hashtext(%s))"
RECALL_KEY = ("SELECT request_hash, order_id FROM idempotency_keys "
              "WHERE customer_id = %s AND key = %s")
REMEMBER_KEY = ("INSERT INTO idempotency_keys (customer_id, key, request_hash, order_id) "
                "VALUES (%s, %s, %s, %s)")
ORDER_LINES = ("SELECT l.product_id::text AS product_id, p.sku, l.quantity, "
               "l.unit_price_cents FROM order_lines l "
               "JOIN products p ON p.id = l.product_id "
               "WHERE l.order_id = %s ORDER BY l.line_no")
# The status and its history row in ONE statement: the writer parses, plans and runs one
# instead of two (bench-pipeline counts every statement the writer runs per order).
MOVE = """WITH moved AS (
    UPDATE orders SET status = %s, rejection_reason = %s, updated_at = now() WHERE id = %s
    RETURNING id, status, rejection_reason
)
INSERT INTO order_status_history (order_id, status, reason)
SELECT id, status, rejection_reason FROM moved"""


def add_order_params(order: OrderReceipt) -> tuple[object, ...]:
    """``ADD_ORDER``'s parameters for ``order``."""
    lines, at, status = order.lines, order.created_at, order.status.value
    return (order.order_id, order.customer_id, status, order.total_cents, at, at,
            order.order_id, [ln.line_no for ln in lines], [ln.product_id for ln in lines],
            [ln.quantity for ln in lines], [ln.unit_price_cents for ln in lines],
            order.order_id, status, at)


class SqlOrders(Orders):
    """The order tables, in one session's transaction; writes go with its next trip."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, order: OrderReceipt) -> None:
        """See ``Orders.add``."""
        self._session.execute(ADD_ORDER, add_order_params(order))

    def receipt(self, order_id: uuid.UUID) -> OrderReceipt:
        """See ``Orders.receipt``."""
        order = self._session.execute(RECEIPT, (order_id,)).one()
        if order is None:
            raise LookupError(f"order {order_id} is not on the writer")
        lines = self._session.execute(RECEIPT_LINES, (order_id,)).all()
        return OrderReceipt(order_id=order_id, customer_id=order["customer_id"],
                            status=OrderStatus.PENDING, total_cents=order["total_cents"],
                            created_at=order["created_at"],
                            lines=tuple(OrderLine(**row) for row in lines))

    def recall_key(self, customer_id: str, key: str) -> RememberedRequest | None:
        """See ``Orders.recall_key``: the lock and the look-up in one round trip."""
        self._session.execute(LOCK_KEY, (LOCK_KEY_NAMESPACE, key))
        row = self._session.execute(RECALL_KEY, (customer_id, key)).one()
        if row is None:
            return None
        return RememberedRequest(request_hash=row["request_hash"], order_id=row["order_id"])

    def remember_key(self, customer_id: str, key: str, request_hash: str,
                     order_id: uuid.UUID) -> None:
        """See ``Orders.remember_key``; the primary key backs up the lock."""
        self._session.execute(REMEMBER_KEY, (customer_id, key, request_hash, order_id))

    def lines(self, order_id: str) -> list[Row]:
        """See ``Orders.lines``: the order's own lines on the writer, authoritative unlike an
        event's copy, with each product's SKU (which InventoryUpdated carries so the product
        cache can evict by SKU as well as by id)."""
        return self._session.execute(ORDER_LINES, (order_id,)).all()

    def move(self, order_id: str, target: OrderStatus, reason: str | None = None) -> None:
        """See ``Orders.move``: the status and its history row, together."""
        self._session.execute(MOVE, (target.value, reason, order_id))
