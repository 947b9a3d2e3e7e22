"""Stock validation and inventory update: the two consumers of the order pipeline.

Every handler writes its dedupe row, its status change, the history row and its outbox
event in ONE writer transaction, so a redelivered message finds the dedupe row and changes
nothing. The reader is consulted only as an early, advisory check; the decision to sell is
the writer's conditional decrement.

Both work on the persistence port (``unit_of_work``, ``read_model``): the worker runs them on
PostgreSQL, the unit tests on in-memory fakes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from enum import StrEnum
from typing import Any

from order_platform import logs, topology
from order_platform.domain.model import OrderStatus, can_transition
from order_platform.domain.stock import Shortage, rejection
from order_platform.service_layer.ports import PoisonMessage
from order_platform.service_layer.read_model import ReadModel
from order_platform.service_layer.unit_of_work import UnitOfWork

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


def validate_stock(uow: UnitOfWork, reads: ReadModel, event_id: str,
                   detail: dict[str, Any]) -> Outcome:
    """Decide an OrderCreated: StockValidated, or REJECTED + OrderRejected."""
    order_id = _order_id(detail)
    wanted = requested_quantities(detail.get("lines"))

    def decide(order_id: str, status: OrderStatus) -> Outcome:
        # The reader may lag the writer (a product just created or restocked): a "no" from
        # the reader is confirmed on the writer before it becomes final, and so is
        # everything while the reader is down.
        shortages = uow.products.shortages(wanted) if advisory is None or advisory else []
        if shortages:
            _reject(uow, order_id, status, shortages)
            return Outcome.REJECTED
        _move(uow, order_id, status, OrderStatus.STOCK_VALIDATED)
        validated = {"order_id": order_id, "lines": detail["lines"]}
        if (placed := placed_at(topology.ORDER_CREATED.name, detail)) is not None:
            validated[topology.PLACED_AT_FIELD] = placed  # so the settling consumer can time it
        uow.outbox.add(topology.STOCK_VALIDATED, validated)
        return Outcome.STOCK_VALIDATED

    advisory = reads.shortages(wanted)
    return _once(uow, VALIDATION_CONSUMER, event_id, order_id, acts_on=OrderStatus.PENDING,
                 decide=decide)


def deduct_stock(uow: UnitOfWork, event_id: str, detail: dict[str, Any]) -> Outcome:
    """Decide a StockValidated: deduct every line or none; CONFIRMED or REJECTED."""

    def decide(order_id: str, status: OrderStatus) -> Outcome:
        # The order's own lines on the writer are authoritative, not the event's copy.
        lines = uow.orders.lines(order_id)
        wanted = requested_quantities(lines)
        if not uow.products.deduct(wanted):
            _reject(uow, order_id, status, uow.products.shortages(wanted))
            return Outcome.REJECTED
        _move(uow, order_id, status, OrderStatus.CONFIRMED)
        uow.outbox.add(topology.INVENTORY_UPDATED, {
            "order_id": order_id,
            "lines": [{**line, "quantity": int(line["quantity"])} for line in lines],
        })
        return Outcome.CONFIRMED

    return _once(uow, INVENTORY_CONSUMER, event_id, _order_id(detail),
                 acts_on=OrderStatus.STOCK_VALIDATED, decide=decide)


def _once(uow: UnitOfWork, consumer: str, event_id: str, order_id: str, *,
          acts_on: OrderStatus, decide: Callable[[str, OrderStatus], Outcome]) -> Outcome:
    """``decide`` on the order in one unit of work with the event's first delivery, if the
    order is in the status the event acts on; a redelivery changes nothing."""
    with uow:
        status = uow.processed_events.claim(consumer, event_id, order_id)
        if status is None:
            return Outcome.DUPLICATE
        outcome = decide(order_id, status) if status is acts_on else Outcome.STALE
        uow.commit()  # a stale event is recorded too: its redelivery is a duplicate
    return outcome


def placed_at(detail_type: str, detail: dict[str, Any]) -> str | None:
    """When the order an event concerns was placed (ISO 8601), if the event tells."""
    if detail_type == topology.ORDER_CREATED.name:
        return detail.get(topology.ENVELOPE_FIELDS[1])  # written with the order
    return detail.get(topology.PLACED_AT_FIELD)


def _order_id(detail: dict[str, Any]) -> str:
    order_id = detail.get("order_id")
    if not isinstance(order_id, str) or not order_id:
        raise PoisonMessage("detail.order_id is missing")
    return order_id


def _move(uow: UnitOfWork, order_id: str, current: OrderStatus, target: OrderStatus,
          reason: str | None = None) -> None:
    if not can_transition(current, target):
        raise ValueError(f"order {order_id}: {current} -> {target} is not allowed")
    uow.orders.move(order_id, target, reason)
    logs.info(log, "order status changed", {"from": current.value, "to": target.value})


def _reject(uow: UnitOfWork, order_id: str, current: OrderStatus,
            shortages: list[Shortage]) -> None:
    code, reason = rejection(shortages)
    _move(uow, order_id, current, OrderStatus.REJECTED, reason)
    uow.outbox.add(topology.ORDER_REJECTED, {
        "order_id": order_id, "reason": code,
        "details": [asdict(s) for s in shortages],
    })
