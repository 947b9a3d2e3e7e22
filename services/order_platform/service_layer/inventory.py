"""What the stock consumers need from storage: a small protocol, so that their decisions can
be tested with an in-memory fake and run on PostgreSQL through ``adapters.inventory``."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from order_platform.domain.model import OrderStatus
from order_platform.domain.stock import Shortage
from order_platform.topology import EventType


class Inventory(Protocol):
    """Orders, stock and outbox inside ONE writer transaction."""

    def claim_order(self, consumer: str, event_id: str, order_id: str) -> OrderStatus | None:
        """Lock the order and record the first delivery of ``event_id`` to ``consumer``: the
        order's status, or None when the event was seen before (a redelivery);
        ``domain.stock.OrderMissing`` if there is no such order."""

    def order_lines(self, order_id: str) -> list[dict[str, Any]]:
        """The order's lines (product_id, sku, quantity, unit_price_cents) in line order."""

    def shortages(self, wanted: dict[str, int]) -> list[Shortage]:
        """What the writer cannot fill now (no locks)."""

    def deduct(self, wanted: dict[str, int]) -> bool:
        """Take every quantity of ``wanted`` from stock, or nothing; True when all fit."""

    def move(self, order_id: str, target: OrderStatus, reason: str | None = None) -> None:
        """Set the order's status and append it to the order's history."""

    def add_event(self, event_type: EventType, detail: dict[str, Any]) -> None:
        """Stage an event in the outbox, to commit with everything else."""


class InventoryUnitOfWork(Protocol):
    """Where the consumers read and write."""

    def reader_shortages(self, wanted: dict[str, int]) -> list[Shortage] | None:
        """An early, advisory check on the reader, which may lag the writer; None when the
        reader cannot tell (it is down)."""

    def transaction(self) -> AbstractContextManager[Inventory]:
        """One writer transaction: commits at the end of the block, rolls back on an error."""
