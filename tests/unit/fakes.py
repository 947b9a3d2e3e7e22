"""Hand-written fakes of the service layer's ports (cosmicpython's FakeUnitOfWork): each
subclasses the real abstraction, and keeps in a ``Store`` what a database would."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from order_platform.domain.catalog import MAX_STOCK, ProductRef, RestockMode
from order_platform.domain.model import OrderStatus
from order_platform.domain.orders import CatalogEntry, OrderItem, OrderReceipt, RememberedRequest
from order_platform.domain.stock import OrderMissing, Shortage, shortages_in
from order_platform.service_layer.ports import BusUnavailable, EntryResult, OutgoingEvent
from order_platform.service_layer.read_model import ReadModel
from order_platform.service_layer.unit_of_work import (
    Backlog,
    Orders,
    Outbox,
    OutboxRow,
    ProcessedEvents,
    Products,
    Row,
    UnitOfWork,
)
from order_platform.topology import EventType


@dataclass
class Store:
    """Everything the fakes keep: what a database would."""

    stock: dict[str, int] = field(default_factory=dict)
    products: dict[str, Row] = field(default_factory=dict)
    """Catalogue rows by product id (as text); ``stock`` holds their stock."""
    orders: dict[str, OrderStatus] = field(default_factory=dict)
    receipts: dict[str, OrderReceipt] = field(default_factory=dict)
    lines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    history: dict[str, list[tuple[OrderStatus, str | None]]] = field(default_factory=dict)
    keys: dict[tuple[str, str], RememberedRequest] = field(default_factory=dict)
    processed: set[tuple[str, str]] = field(default_factory=set)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    outbox: dict[int, dict[str, Any]] = field(default_factory=dict)
    """The outbox's rows by id: the event, and published / parked / attempts / last_error."""
    next_row: int = 1

    def add_product(self, sku: str, price_cents: int = 100, stock: int = 10) -> str:
        """A catalogue product; its id."""
        product_id = str(uuid.uuid4())
        now = datetime.now(UTC)
        self.products[product_id] = {"id": uuid.UUID(product_id), "sku": sku, "name": sku,
                                     "price_cents": price_cents, "created_at": now,
                                     "updated_at": now}
        self.stock[product_id] = stock
        return product_id

    def product_row(self, product_id: str) -> Row:
        """The product as the database returns it, with its stock."""
        return {**self.products[product_id], "stock": self.stock[product_id]}

    def find(self, ref: ProductRef) -> str | None:
        """The id of the product ``ref`` names."""
        if ref.product_id is not None:
            return str(ref.product_id) if str(ref.product_id) in self.products else None
        return next((p for p, row in self.products.items() if row["sku"] == ref.sku), None)


class FakeOrders(Orders):
    """``Orders`` over a ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, order: OrderReceipt) -> None:
        key = str(order.order_id)
        self.store.orders[key] = order.status
        self.store.receipts[key] = order
        self.store.lines[key] = [{"product_id": str(ln.product_id), "sku": ln.sku,
                                  "quantity": ln.quantity,
                                  "unit_price_cents": ln.unit_price_cents}
                                 for ln in order.lines]
        self.store.history[key] = [(order.status, None)]

    def receipt(self, order_id: uuid.UUID) -> OrderReceipt:
        return self.store.receipts[str(order_id)]

    def recall_key(self, customer_id: str, key: str) -> RememberedRequest | None:
        return self.store.keys.get((customer_id, key))

    def remember_key(self, customer_id: str, key: str, request_hash: str,
                     order_id: uuid.UUID) -> None:
        assert (customer_id, key) not in self.store.keys, "the primary key would refuse this"
        self.store.keys[(customer_id, key)] = RememberedRequest(request_hash, order_id)

    def lines(self, order_id: str) -> list[Row]:
        return [dict(line) for line in self.store.lines[order_id]]

    def move(self, order_id: str, target: OrderStatus, reason: str | None = None) -> None:
        self.store.orders[order_id] = target
        self.store.history.setdefault(order_id, []).append((target, reason))


class FakeProducts(Products):
    """``Products`` over a ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def catalogue_for(self, items: Sequence[OrderItem]) -> list[CatalogEntry]:
        wanted = {str(i.product_id) for i in items if i.product_id} | {i.sku for i in items}
        return [CatalogEntry(row["id"], row["sku"], row["price_cents"])
                for pid, row in self.store.products.items()
                if pid in wanted or row["sku"] in wanted]

    def add(self, *, sku: str, name: str, price_cents: int, stock: int) -> Row | None:
        if self.store.find(ProductRef(sku=sku)) is not None:
            return None
        product_id = self.store.add_product(sku, price_cents, stock)
        self.store.products[product_id]["name"] = name
        return self.store.product_row(product_id)

    def restock(self, ref: ProductRef, mode: RestockMode, quantity: int) -> Row | None:
        product_id = self.store.find(ref)
        if product_id is None:
            return None
        if mode is RestockMode.SET:
            self.store.stock[product_id] = quantity
        elif self.store.stock[product_id] + quantity <= MAX_STOCK:
            self.store.stock[product_id] += quantity
        else:
            return None
        return self.store.product_row(product_id)

    def stock_of(self, ref: ProductRef) -> tuple[uuid.UUID, int] | None:
        product_id = self.store.find(ref)
        return None if product_id is None else (uuid.UUID(product_id),
                                                self.store.stock[product_id])

    def shortages(self, wanted: dict[str, int]) -> list[Shortage]:
        return shortages_in(wanted, {p: (n, None) for p, n in self.store.stock.items()})

    def deduct(self, wanted: dict[str, int]) -> bool:
        if self.shortages(wanted):
            return False
        for product_id, quantity in wanted.items():
            self.store.stock[product_id] -= quantity
        return True


class FakeOutbox(Outbox):
    """``Outbox`` over a ``Store``: ``events`` in the order staged, ``outbox`` by row id."""

    def __init__(self, store: Store, claimed: set[int]) -> None:
        self.store = store
        self.claimed = claimed

    def add(self, event_type: EventType, detail: dict[str, Any]) -> str:
        event_id = str(uuid.uuid4())
        self.store.events.append((event_type.name, detail))
        row_id, self.store.next_row = self.store.next_row, self.store.next_row + 1
        self.store.outbox[row_id] = {
            "event_id": event_id, "event_type": event_type.name, "source": event_type.source,
            "detail": {**detail, "event_id": event_id}, "attempts": 0, "published": False,
            "parked": False, "last_error": None}
        return event_id

    def claim(self, limit: int, skipping: Collection[int] = ()) -> list[OutboxRow]:
        ids = [i for i, row in sorted(self.store.outbox.items())
               if not row["published"] and not row["parked"] and i not in skipping][:limit]
        self.claimed.update(ids)
        return [OutboxRow(id=i, **{k: self.store.outbox[i][k] for k in (
            "event_id", "event_type", "source", "detail", "attempts")}) for i in ids]

    def mark_published(self, ids: Sequence[int]) -> None:
        for i in ids:
            assert i in self.claimed, "only a claimed row is marked"
            self.store.outbox[i].update(published=True,
                                        attempts=self.store.outbox[i]["attempts"] + 1,
                                        last_error=None)

    def mark_rejected(self, row_id: int, attempts: int, error: str, *, park: bool) -> None:
        assert row_id in self.claimed, "only a claimed row is marked"
        self.store.outbox[row_id].update(attempts=attempts, last_error=error, parked=park)

    def backlog(self) -> Backlog:
        rows = [r for r in self.store.outbox.values() if not r["published"]]
        return Backlog(sum(not r["parked"] for r in rows), 0.0, sum(r["parked"] for r in rows))

    def parked(self, limit: int) -> list[Row]:
        return [{"id": i, "event_id": r["event_id"], "attempts": r["attempts"],
                 "last_error": r["last_error"]}
                for i, r in sorted(self.store.outbox.items()) if r["parked"]][:limit]

    def unpark(self, ids: Sequence[int] | None) -> list[int]:
        chosen = [i for i, r in sorted(self.store.outbox.items())
                  if r["parked"] and (ids is None or i in ids)]
        for i in chosen:
            self.store.outbox[i].update(parked=False, attempts=0)
        return chosen


class FakeProcessedEvents(ProcessedEvents):
    """``ProcessedEvents`` over a ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def claim(self, consumer: str, event_id: str, order_id: str) -> OrderStatus | None:
        if order_id not in self.store.orders:
            raise OrderMissing(order_id)
        if (consumer, event_id) in self.store.processed:
            return None
        self.store.processed.add((consumer, event_id))
        return self.store.orders[order_id]


class FakeUnitOfWork(UnitOfWork):
    """``UnitOfWork`` whose store is put back as it was unless committed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.committed = 0
        self._before: Store | None = None
        claimed: set[int] = set()
        self.orders = FakeOrders(store)
        self.products = FakeProducts(store)
        self.outbox = FakeOutbox(store, claimed)
        self.processed_events = FakeProcessedEvents(store)

    def __enter__(self) -> FakeUnitOfWork:
        self._before = copy.deepcopy(self.store)
        self.outbox.claimed.clear()
        return self

    def commit(self) -> None:
        self._before = copy.deepcopy(self.store)
        self.committed += 1

    def rollback(self) -> None:
        if self._before is not None:
            self.store.__dict__.update(copy.deepcopy(self._before).__dict__)


class FakeReadModel(ReadModel):
    """``ReadModel`` over a ``Store``: a reader that may lag (``stock``) or be down."""

    def __init__(self, store: Store, stock: dict[str, int] | None = None,
                 down: bool = False) -> None:
        self.store = store
        self.stock = stock
        self.down = down

    def order(self, order_id: uuid.UUID) -> Row | None:
        receipt = self.store.receipts.get(str(order_id))
        if receipt is None:
            return None
        key = str(order_id)
        return {"id": order_id, "customer_id": receipt.customer_id,
                "status": self.store.orders[key].value, "total_cents": receipt.total_cents,
                "lines": [{"line_no": n, **line}
                          for n, line in enumerate(self.store.lines[key], start=1)],
                "history": [{"status": s.value, "reason": r, "occurred_at": receipt.created_at}
                            for s, r in self.store.history[key]]}

    def orders(self, *, customer_id: str | None, status: str | None, limit: int,
               before_seq: int | None) -> list[Row]:
        rows = [{"id": r.order_id, "seq": seq, "customer_id": r.customer_id,
                 "status": self.store.orders[key].value}
                for seq, (key, r) in enumerate(self.store.receipts.items(), start=1)]
        return [row for row in reversed(rows)
                if customer_id in (None, row["customer_id"]) and status in (None, row["status"])
                and (before_seq is None or row["seq"] < before_seq)][:limit]

    def product(self, ref: ProductRef) -> Row | None:
        product_id = self.store.find(ref)
        return None if product_id is None else self.store.product_row(product_id)

    def products(self, *, limit: int, after_sku: str | None) -> list[Row]:
        rows = sorted((self.store.product_row(p) for p in self.store.products),
                      key=lambda row: row["sku"])
        return [row for row in rows if after_sku is None or row["sku"] > after_sku][:limit]

    def shortages(self, wanted: dict[str, int]) -> list[Shortage] | None:
        if self.down:
            return None
        seen = self.store.stock if self.stock is None else self.stock
        return shortages_in(wanted, {p: (n, None) for p, n in seen.items()})


class FakeBus:
    """An event bus that accepts every event but those ``rejecting`` names (by key), or
    fails whole calls while ``down``."""

    def __init__(self, rejecting: Collection[int] = (), down: bool = False) -> None:
        self.rejecting = set(rejecting)
        self.down = down
        self.sent: list[OutgoingEvent] = []

    def publish(self, events: Sequence[OutgoingEvent]) -> list[EntryResult]:
        if self.down:
            raise BusUnavailable("the bus is down")
        self.sent.extend(events)
        return [EntryResult(e.key, False, error="Rejected: no") if e.key in self.rejecting
                else EntryResult(e.key, True, envelope_id=str(uuid.uuid4())) for e in events]
