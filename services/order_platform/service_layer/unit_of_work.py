"""The persistence port: a unit of work on the writer and the repositories the service layer needs.

In the shape of cosmicpython's ``unit_of_work.py`` and ``repository.py``: the service layer
talks to storage through these abstract classes alone. ``adapters.unit_of_work`` implements
them on PostgreSQL (with every round-trip strategy behind them), ``tests/unit/fakes.py`` in
memory. ``with uow:`` starts one writer transaction; ``uow.commit()`` commits it, and leaving
the block without a commit rolls it back.

The repositories speak in the domain's terms (orders, stock, events, deliveries), not in
tables: how the outbox, its claims or the dedupe records are stored may change (and with it
their SQL) without a change here.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from order_platform.domain.catalog import ProductRef, RestockMode
from order_platform.domain.model import OrderStatus
from order_platform.domain.orders import CatalogEntry, OrderItem, OrderReceipt, RememberedRequest
from order_platform.domain.stock import Shortage
from order_platform.topology import EventType

Row = dict[str, Any]
"""A record as the APIs show it (a product, a parked outbox row): names to plain values."""


class Orders(abc.ABC):
    """Orders with their lines and status history, and the Idempotency-Keys that created them."""

    @abc.abstractmethod
    def add(self, order: OrderReceipt) -> None:
        """Store a new order, its lines and its first status, all at ``order.created_at``."""

    @abc.abstractmethod
    def receipt(self, order_id: uuid.UUID) -> OrderReceipt:
        """The order as it was created (PENDING), for a replayed request."""

    @abc.abstractmethod
    def recall_key(self, customer_id: str, key: str) -> RememberedRequest | None:
        """What ``customer_id``'s ``key`` stands for, if anything (each customer's keys are
        its own). From this call until the unit of work ends, another unit of work recalling
        the same customer's key waits for this one."""

    @abc.abstractmethod
    def remember_key(self, customer_id: str, key: str, request_hash: str,
                     order_id: uuid.UUID) -> None:
        """Record that ``customer_id``'s ``key``, with a request of ``request_hash``, created
        ``order_id``."""

    @abc.abstractmethod
    def lines(self, order_id: str) -> list[Row]:
        """The order's lines (product_id, sku, quantity, unit_price_cents) in line order."""

    @abc.abstractmethod
    def move(self, order_id: str, target: OrderStatus, reason: str | None = None) -> None:
        """Set the order's status and append it to the order's history."""


class Products(abc.ABC):
    """The catalogue and its stock, on the writer."""

    @abc.abstractmethod
    def catalogue_for(self, items: Sequence[OrderItem]) -> list[CatalogEntry]:
        """The products ``items`` name (by id or SKU) with their prices; unknown ones are
        simply absent."""

    @abc.abstractmethod
    def add(self, *, sku: str, name: str, price_cents: int, stock: int) -> Row | None:
        """Create a product; None when the SKU is taken."""

    @abc.abstractmethod
    def restock(self, ref: ProductRef, mode: RestockMode, quantity: int) -> Row | None:
        """Set the product's stock to ``quantity``, or add it without passing ``MAX_STOCK``,
        in one atomic step; None when no product matched, or adding would pass the maximum."""

    @abc.abstractmethod
    def stock_of(self, ref: ProductRef) -> tuple[uuid.UUID, int] | None:
        """The product's id and stock; None when there is no such product."""

    @abc.abstractmethod
    def shortages(self, wanted: dict[str, int]) -> list[Shortage]:
        """What the stock cannot fill now (no locks), products in id order."""

    @abc.abstractmethod
    def deduct(self, wanted: dict[str, int]) -> bool:
        """Take every quantity of ``wanted`` (product id to quantity) from stock, or nothing;
        True when all fit."""


@dataclass(frozen=True)
class OutboxRow:
    """An event waiting in the outbox to be published."""

    id: int
    event_id: str
    event_type: str
    source: str
    detail: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Backlog:
    """What waits in the outbox: a figure of the database, the same from every relay."""

    waiting: int
    """Rows not yet published and not parked."""
    oldest_age_seconds: float
    """How long the oldest of them has waited; 0 when none does."""
    parked: int


class Outbox(abc.ABC):
    """Events committed with the change they announce, until the relay has published them."""

    @abc.abstractmethod
    def add(self, event_type: EventType, detail: dict[str, Any]) -> str:
        """Stage an event (with a new event id and the time) to commit with this unit of
        work; its event id."""

    @abc.abstractmethod
    def claim(self, limit: int, skipping: Collection[int] = ()) -> list[OutboxRow]:
        """Up to ``limit`` unpublished, unparked events, oldest first, except ``skipping``
        (row ids) and those another unit of work has claimed: claimed until this one ends."""

    @abc.abstractmethod
    def mark_published(self, ids: Sequence[int]) -> None:
        """The bus accepted these claimed rows: they are done."""

    @abc.abstractmethod
    def mark_rejected(self, row_id: int, attempts: int, error: str, *, park: bool) -> None:
        """The bus rejected a claimed row for the ``attempts``-th time; ``park`` it for good
        (until ``unpark``) when it is out of attempts."""

    @abc.abstractmethod
    def backlog(self) -> Backlog:
        """What waits: rows to publish, the age of the oldest, rows parked."""

    @abc.abstractmethod
    def parked(self, limit: int) -> list[Row]:
        """Parked rows, oldest first, with the size of their detail instead of the detail."""

    @abc.abstractmethod
    def unpark(self, ids: Sequence[int] | None) -> list[int]:
        """Make parked rows (None: all) claimable again with a fresh attempt budget; their ids."""


class ProcessedEvents(abc.ABC):
    """Which consumer has seen which event: the consumers' deduplication."""

    @abc.abstractmethod
    def claim(self, consumer: str, event_id: str, order_id: str) -> OrderStatus | None:
        """Record the first delivery of ``event_id`` to ``consumer``, with the order it
        concerns locked until the unit of work ends: the order's status, or None when the
        event was seen before (nothing to do). ``OrderMissing`` if there is no such order."""


class UnitOfWork(abc.ABC):
    """One transaction on the writer, and the repositories inside it."""

    orders: Orders
    products: Products
    outbox: Outbox
    processed_events: ProcessedEvents

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, failure: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.rollback()

    @abc.abstractmethod
    def commit(self) -> None:
        """Make everything since ``with uow:`` durable, at once."""

    @abc.abstractmethod
    def rollback(self) -> None:
        """Undo everything not committed (nothing, after a commit)."""
