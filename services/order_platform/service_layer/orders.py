"""Placing orders on the writer: order, lines, first history row and outbox event at once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from order_platform import topology
from order_platform.adapters import outbox
from order_platform.adapters.batch import StatementBatch
from order_platform.adapters.db import Database
from order_platform.domain.errors import IdempotencyKeyReused
from order_platform.domain.model import OrderStatus
from order_platform.domain.orders import (
    CatalogEntry,
    OrderItem,
    OrderLine,
    order_total,
    price_lines,
    request_fingerprint,
)
from order_platform.service_layer import idempotency


@dataclass(frozen=True)
class OrderReceipt:
    """What the writer accepted: the order as it was created."""

    order_id: uuid.UUID
    customer_id: str
    status: OrderStatus
    total_cents: int
    created_at: datetime
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True)
class PlacedOrder:
    """The receipt, and whether it is a replay of an earlier request with the same key."""

    receipt: OrderReceipt
    replayed: bool


def place_order(db: Database, customer_id: str, items: Sequence[OrderItem],
                idempotency_key: str | None = None) -> PlacedOrder:
    """Accept an order as PENDING and stage OrderCreated, in one writer transaction.

    With an Idempotency-Key, a repeat of the same request returns the original
    receipt and a different request with the same key raises IdempotencyKeyReused.
    """
    if idempotency_key is None:
        # Two statements, no transaction: the prices, then the order with everything that
        # commits with it in ONE statement (``_create``). A transaction under READ COMMITTED
        # would not hold the prices still between the two either; it would only add its
        # BEGIN and COMMIT round trips.
        with db.statement() as cur:
            return PlacedOrder(_create(cur, customer_id,
                                       price_lines(items, _catalogue_for(cur, items))),
                               replayed=False)
    request_hash = request_fingerprint(customer_id, items)
    with db.transaction() as cur:
        idempotency.lock(cur, idempotency_key)
        remembered = idempotency.recall(cur, idempotency_key)
        if remembered is not None:
            if remembered.request_hash != request_hash:
                raise IdempotencyKeyReused(idempotency_key, str(remembered.order_id))
            return PlacedOrder(_load_receipt(cur, remembered.order_id), replayed=True)
        receipt = _create(cur, customer_id, price_lines(items, _catalogue_for(cur, items)))
        idempotency.remember(cur, idempotency_key, request_hash, receipt.order_id)
    return PlacedOrder(receipt, replayed=False)


def _catalogue_for(cur, items: Sequence[OrderItem]) -> list[CatalogEntry]:
    ids = [i.product_id for i in items if i.product_id is not None]
    skus = [i.sku for i in items if i.sku is not None]
    cur.execute(
        "SELECT id, sku, price_cents FROM products"
        " WHERE id = ANY(%s::uuid[]) OR sku = ANY(%s::text[])",
        (ids, skus),
    )
    return [CatalogEntry(product_id=r["id"], sku=r["sku"], price_cents=r["price_cents"])
            for r in cur.fetchall()]


# The order, its lines and its first history row; with OrderCreated (staged by
# outbox.add_event in a StatementBatch) they are ONE statement: all commit or none does.
_ORDER_ROWS = """new_order AS (
    INSERT INTO orders (id, customer_id, status, total_cents) VALUES (%s, %s, %s, %s)
    RETURNING created_at
), lines AS (
    INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price_cents)
    SELECT %s, * FROM unnest(%s::int[], %s::uuid[], %s::int[], %s::int[])
), history AS (
    INSERT INTO order_status_history (order_id, status) VALUES (%s, %s)
)"""
_ORDER_CREATED_AT = "SELECT created_at FROM new_order"


def _create(cur, customer_id: str, lines: list[OrderLine]) -> OrderReceipt:
    order_id = uuid.uuid4()
    total = order_total(lines)
    status = OrderStatus.PENDING.value
    batch = StatementBatch()
    outbox.add_event(batch, topology.ORDER_CREATED, {
        "order_id": str(order_id),
        "customer_id": customer_id,
        "lines": [{"product_id": str(ln.product_id), "sku": ln.sku, "quantity": ln.quantity,
                   "unit_price_cents": ln.unit_price_cents} for ln in lines],
        "total_cents": total,
    })
    cur.execute(batch.statement(_ORDER_ROWS, _ORDER_CREATED_AT), (
        order_id, customer_id, status, total,
        order_id, [ln.line_no for ln in lines], [ln.product_id for ln in lines],
        [ln.quantity for ln in lines], [ln.unit_price_cents for ln in lines],
        order_id, status, *batch.params))
    created_at = cur.fetchone()["created_at"]
    return OrderReceipt(order_id=order_id, customer_id=customer_id, status=OrderStatus.PENDING,
                        total_cents=total, created_at=created_at, lines=tuple(lines))


def _load_receipt(cur, order_id: uuid.UUID) -> OrderReceipt:
    # A replay answers with the original response: the order as created, PENDING.
    cur.execute("SELECT customer_id, total_cents, created_at FROM orders WHERE id = %s",
                (order_id,))
    order = cur.fetchone()
    cur.execute(
        "SELECT l.line_no, l.product_id, p.sku, l.quantity, l.unit_price_cents"
        " FROM order_lines l JOIN products p ON p.id = l.product_id"
        " WHERE l.order_id = %s ORDER BY l.line_no",
        (order_id,),
    )
    lines = tuple(OrderLine(**row) for row in cur.fetchall())
    return OrderReceipt(order_id=order_id, customer_id=order["customer_id"],
                        status=OrderStatus.PENDING, total_cents=order["total_cents"],
                        created_at=order["created_at"], lines=lines)
