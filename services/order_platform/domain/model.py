"""Order statuses and the transitions between them."""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    """Where an order is in its life."""

    PENDING = "PENDING"
    STOCK_VALIDATED = "STOCK_VALIDATED"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"


ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.STOCK_VALIDATED, OrderStatus.REJECTED}),
    OrderStatus.STOCK_VALIDATED: frozenset({OrderStatus.CONFIRMED, OrderStatus.REJECTED}),
    OrderStatus.CONFIRMED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
}


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    """True when an order in ``current`` may move to ``target``."""
    return target in ALLOWED_TRANSITIONS[current]
