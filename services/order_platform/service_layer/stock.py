"""Stock validation and inventory update: the two consumers of the order pipeline.

Every handler writes its dedupe row, its status change, the history row and its outbox
event in ONE writer transaction, so a redelivered message finds the dedupe row and changes
nothing. The reader is consulted only as an early, advisory check; the decision to sell is
the writer's conditional decrement.

The decisions (``validate_stock``, ``deduct_stock``) work on the ``InventoryUnitOfWork``
protocol, so unit tests drive them with an in-memory fake; ``validate_order_stock`` and
``update_inventory`` run them on PostgreSQL.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from enum import StrEnum
from typing import Any

from order_platform import logs, topology
from order_platform.adapters.db import Database
from order_platform.adapters.inventory import SqlInventoryUnitOfWork
from order_platform.adapters.queues import PoisonMessage
from order_platform.domain.model import OrderStatus, can_transition
from order_platform.domain.stock import Shortage, rejection
from order_platform.service_layer.inventory import Inventory, InventoryUnitOfWork

log = logging.getLogger(__name__)

VALIDATION_CONSUMER = topology.STOCK_VALIDATION_QUEUE.consumer
INVENTORY_CONSUMER = topology.INVENTORY_UPDATE_QUEUE.consumer


class Outcome(StrEnum):
    """What a handler did with one event."""

    STOCK_VALIDATED = "STOCK_VALIDATED"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    DUPLICATE = "DUPLICATE"
    """Already processed: acknowledged without effect."""
    STALE = "STALE"
    """The order is no longer in the status this event acts on: recorded, no effect."""


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


def validate_stock(uow: InventoryUnitOfWork, event_id: str, detail: dict[str, Any]) -> Outcome:
    """Decide an OrderCreated: StockValidated, or REJECTED + OrderRejected."""
    order_id = _order_id(detail)
    wanted = requested_quantities(detail.get("lines"))
    advisory = uow.reader_shortages(wanted)
    with uow.transaction() as inventory:
        status = inventory.claim_order(VALIDATION_CONSUMER, event_id, order_id)
        if status is None:
            return Outcome.DUPLICATE
        if status is not OrderStatus.PENDING:
            return Outcome.STALE
        # The reader may lag the writer (a product just created or restocked): a "no"
        # from the reader is confirmed on the writer before it becomes final, and so is
        # everything while the reader is down.
        shortages = inventory.shortages(wanted) if advisory is None or advisory else []
        if shortages:
            _reject(inventory, order_id, status, shortages)
            return Outcome.REJECTED
        _move(inventory, order_id, status, OrderStatus.STOCK_VALIDATED)
        validated = {"order_id": order_id, "lines": detail["lines"]}
        if (placed := placed_at(topology.ORDER_CREATED.name, detail)) is not None:
            validated[topology.PLACED_AT_FIELD] = placed  # so the settling consumer can time it
        inventory.add_event(topology.STOCK_VALIDATED, validated)
        return Outcome.STOCK_VALIDATED


def deduct_stock(uow: InventoryUnitOfWork, event_id: str, detail: dict[str, Any]) -> Outcome:
    """Decide a StockValidated: deduct every line or none; CONFIRMED or REJECTED."""
    order_id = _order_id(detail)
    with uow.transaction() as inventory:
        status = inventory.claim_order(INVENTORY_CONSUMER, event_id, order_id)
        if status is None:
            return Outcome.DUPLICATE
        if status is not OrderStatus.STOCK_VALIDATED:
            return Outcome.STALE
        # The order's own lines on the writer are authoritative, not the event's copy.
        lines = inventory.order_lines(order_id)
        wanted = requested_quantities(lines)
        if not inventory.deduct(wanted):
            _reject(inventory, order_id, status, inventory.shortages(wanted))
            return Outcome.REJECTED
        _move(inventory, order_id, status, OrderStatus.CONFIRMED)
        inventory.add_event(topology.INVENTORY_UPDATED, {
            "order_id": order_id,
            "lines": [{**line, "quantity": int(line["quantity"])} for line in lines],
        })
        return Outcome.CONFIRMED


def placed_at(detail_type: str, detail: dict[str, Any]) -> str | None:
    """When the order an event concerns was placed (ISO 8601), if the event tells."""
    if detail_type == topology.ORDER_CREATED.name:
        return detail.get(topology.ENVELOPE_FIELDS[1])  # written with the order
    return detail.get(topology.PLACED_AT_FIELD)


def validate_order_stock(writer: Database, reader: Database, event_id: str,
                         detail: dict[str, Any]) -> Outcome:
    """Handle OrderCreated on PostgreSQL (see ``validate_stock``)."""
    return validate_stock(SqlInventoryUnitOfWork(writer, reader), event_id, detail)


def update_inventory(writer: Database, event_id: str, detail: dict[str, Any]) -> Outcome:
    """Handle StockValidated on PostgreSQL (see ``deduct_stock``); the reader is not used."""
    return deduct_stock(SqlInventoryUnitOfWork(writer, writer), event_id, detail)


def _order_id(detail: dict[str, Any]) -> str:
    order_id = detail.get("order_id")
    if not isinstance(order_id, str) or not order_id:
        raise PoisonMessage("detail.order_id is missing")
    return order_id


def _move(inventory: Inventory, order_id: str, current: OrderStatus, target: OrderStatus,
          reason: str | None = None) -> None:
    if not can_transition(current, target):
        raise ValueError(f"order {order_id}: {current} -> {target} is not allowed")
    inventory.move(order_id, target, reason)
    logs.info(log, "order status changed", {"from": current.value, "to": target.value})


def _reject(inventory: Inventory, order_id: str, current: OrderStatus,
            shortages: list[Shortage]) -> None:
    code, reason = rejection(shortages)
    _move(inventory, order_id, current, OrderStatus.REJECTED, reason)
    inventory.add_event(topology.ORDER_REJECTED, {
        "order_id": order_id, "reason": code,
        "details": [asdict(s) for s in shortages],
    })
