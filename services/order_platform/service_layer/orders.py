"""Placing orders on the writer: order, lines, first history row and outbox event at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from order_platform import topology
from order_platform.domain.errors import IdempotencyKeyReused
from order_platform.domain.orders import (
    OrderItem,
    OrderReceipt,
    price_lines,
    request_fingerprint,
)
from order_platform.service_layer.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class PlacedOrder:
    """The receipt, and whether it is a replay of an earlier request with the same key."""

    receipt: OrderReceipt
    replayed: bool


def place_order(uow: UnitOfWork, customer_id: str, items: Sequence[OrderItem],
                idempotency_key: str | None = None) -> PlacedOrder:
    """Accept an order as PENDING and stage OrderCreated, in one unit of work.

    With an Idempotency-Key, a repeat of the same request returns the original receipt
    and a different request with the same key raises IdempotencyKeyReused; two requests
    racing with one key are serialised by the key (``Orders.recall_key``). Keys are the
    customer's own: another customer's use of the same key is none of this one's business.
    """
    with uow:
        if idempotency_key is not None:
            request_hash = request_fingerprint(customer_id, items)
            remembered = uow.orders.recall_key(customer_id, idempotency_key)
            if remembered is not None:
                if remembered.request_hash != request_hash:
                    raise IdempotencyKeyReused(idempotency_key, str(remembered.order_id))
                return PlacedOrder(uow.orders.receipt(remembered.order_id), replayed=True)
        order = OrderReceipt.new(customer_id,
                                 price_lines(items, uow.products.catalogue_for(items)))
        uow.orders.add(order)
        uow.outbox.add(topology.ORDER_CREATED, order_created(order))
        if idempotency_key is not None:
            uow.orders.remember_key(customer_id, idempotency_key, request_hash,
                                    order.order_id)
        uow.commit()
    return PlacedOrder(order, replayed=False)


def order_created(order: OrderReceipt) -> dict[str, object]:
    """The detail of the order's OrderCreated event."""
    return {
        "order_id": str(order.order_id),
        "customer_id": order.customer_id,
        "lines": [{"product_id": str(ln.product_id), "sku": ln.sku, "quantity": ln.quantity,
                   "unit_price_cents": ln.unit_price_cents} for ln in order.lines],
        "total_cents": order.total_cents,
    }
