"""Hand-written fakes of the service layer's abstractions (cosmicpython's FakeUnitOfWork)."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from order_platform.domain.model import OrderStatus
from order_platform.domain.stock import OrderMissing, Shortage, shortages_in
from order_platform.service_layer.inventory import Inventory, InventoryUnitOfWork
from order_platform.topology import EventType


@dataclass
class Store:
    """Everything the fake keeps: what a database would."""

    stock: dict[str, int] = field(default_factory=dict)
    orders: dict[str, OrderStatus] = field(default_factory=dict)
    lines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    history: dict[str, list[tuple[OrderStatus, str | None]]] = field(default_factory=dict)
    processed: set[tuple[str, str]] = field(default_factory=set)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class FakeInventory(Inventory):
    """``Inventory`` over a ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def claim_order(self, consumer: str, event_id: str, order_id: str) -> OrderStatus | None:
        if order_id not in self.store.orders:
            raise OrderMissing(order_id)
        key = (consumer, event_id)
        if key in self.store.processed:
            return None
        self.store.processed.add(key)
        return self.store.orders[order_id]

    def order_lines(self, order_id: str) -> list[dict[str, Any]]:
        return [dict(line) for line in self.store.lines[order_id]]

    def shortages(self, wanted: dict[str, int]) -> list[Shortage]:
        return shortages_in(wanted, {p: (n, None) for p, n in self.store.stock.items()})

    def deduct(self, wanted: dict[str, int]) -> bool:
        if self.shortages(wanted):
            return False
        for product_id, quantity in wanted.items():
            self.store.stock[product_id] -= quantity
        return True

    def move(self, order_id: str, target: OrderStatus, reason: str | None = None) -> None:
        self.store.orders[order_id] = target
        self.store.history.setdefault(order_id, []).append((target, reason))

    def add_event(self, event_type: EventType, detail: dict[str, Any]) -> None:
        self.store.events.append((event_type.name, detail))


class FakeInventoryUnitOfWork(InventoryUnitOfWork):
    """``InventoryUnitOfWork`` whose transactions roll the store back on an error.

    ``reader_stock`` is what the (lagging) reader sees; None means the same as the writer.
    ``reader_down`` makes the reader unable to tell.
    """

    def __init__(self, store: Store, reader_stock: dict[str, int] | None = None,
                 reader_down: bool = False) -> None:
        self.store = store
        self.reader_stock = reader_stock
        self.reader_down = reader_down
        self.committed = 0

    def reader_shortages(self, wanted: dict[str, int]) -> list[Shortage] | None:
        if self.reader_down:
            return None
        seen = self.store.stock if self.reader_stock is None else self.reader_stock
        return shortages_in(wanted, {p: (n, None) for p, n in seen.items()})

    @contextlib.contextmanager
    def transaction(self) -> Iterator[FakeInventory]:
        before = copy.deepcopy(self.store)
        try:
            yield FakeInventory(self.store)
        except BaseException:
            self.store.__dict__.update(before.__dict__)
            raise
        self.committed += 1
