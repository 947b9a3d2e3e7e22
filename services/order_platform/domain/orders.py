"""Placing an order: items, prices taken from the catalogue, totals, request fingerprints."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from order_platform.domain.errors import DuplicateProductLines, UnknownProducts
from order_platform.domain.model import OrderStatus

MAX_LINE_QUANTITY = 10_000
MAX_LINES = 100
MAX_CUSTOMER_ID_LENGTH = 128
# 100 lines x 10,000 x the int32 price ceiling stays far inside the bigint total.


@dataclass(frozen=True)
class OrderItem:
    """One requested line: a product by id or by SKU, and a quantity."""

    quantity: int
    product_id: uuid.UUID | None = None
    sku: str | None = None

    def ref(self) -> dict[str, str]:
        """How the client named the product, for error details."""
        if self.product_id is not None:
            return {"product_id": str(self.product_id)}
        return {"sku": str(self.sku)}


@dataclass(frozen=True)
class CatalogEntry:
    """What an order needs to know about a product at order time."""

    product_id: uuid.UUID
    sku: str
    price_cents: int


@dataclass(frozen=True)
class OrderLine:
    """A priced order line."""

    line_no: int
    product_id: uuid.UUID
    sku: str
    quantity: int
    unit_price_cents: int

    @property
    def line_total_cents(self) -> int:
        """Quantity times unit price."""
        return self.quantity * self.unit_price_cents


@dataclass(frozen=True)
class OrderReceipt:
    """What the writer accepted: the order as it was created."""

    order_id: uuid.UUID
    customer_id: str
    status: OrderStatus
    total_cents: int
    created_at: datetime
    lines: tuple[OrderLine, ...]

    @classmethod
    def new(cls, customer_id: str, lines: Sequence[OrderLine]) -> OrderReceipt:
        """A new order of priced ``lines``, PENDING, created now."""
        return cls(order_id=uuid.uuid4(), customer_id=customer_id, status=OrderStatus.PENDING,
                   total_cents=order_total(lines), created_at=datetime.now(UTC),
                   lines=tuple(lines))


@dataclass(frozen=True)
class RememberedRequest:
    """What an Idempotency-Key already stands for."""

    request_hash: str
    order_id: uuid.UUID


def price_lines(items: Sequence[OrderItem], catalogue: Iterable[CatalogEntry]) -> list[OrderLine]:
    """Resolve every item against the catalogue and price it.

    Raises UnknownProducts naming every item that matches nothing, then
    DuplicateProductLines when two items resolve to one product: we reject rather
    than merge, so a client bug that repeats a line is visible instead of silently
    doubling a quantity.
    """
    by_id: dict[uuid.UUID, CatalogEntry] = {}
    by_sku: dict[str, CatalogEntry] = {}
    for entry in catalogue:
        by_id[entry.product_id] = entry
        by_sku[entry.sku] = entry
    resolved: list[tuple[OrderItem, CatalogEntry]] = []
    unknown: list[dict[str, str]] = []
    for item in items:
        found = by_id.get(item.product_id) if item.product_id else by_sku.get(item.sku or "")
        if found is None:
            unknown.append(item.ref())
        else:
            resolved.append((item, found))
    if unknown:
        raise UnknownProducts(unknown)
    seen: set[uuid.UUID] = set()
    duplicates: list[str] = []
    for _, entry in resolved:
        if entry.product_id in seen and str(entry.product_id) not in duplicates:
            duplicates.append(str(entry.product_id))
        seen.add(entry.product_id)
    if duplicates:
        raise DuplicateProductLines(duplicates)
    return [
        OrderLine(line_no=n, product_id=entry.product_id, sku=entry.sku,
                  quantity=item.quantity, unit_price_cents=entry.price_cents)
        for n, (item, entry) in enumerate(resolved, start=1)
    ]


def order_total(lines: Iterable[OrderLine]) -> int:
    """The order total in cents."""
    return sum(line.line_total_cents for line in lines)


def request_fingerprint(customer_id: str, items: Sequence[OrderItem]) -> str:
    """A stable hash of a validated order request, to recognise Idempotency-Key replays.

    It hashes the parsed request, not its bytes, so key order and whitespace do not
    matter; line order does, because it fixes the line numbers.
    """
    canonical = {
        "customer_id": customer_id,
        "items": [
            {"product_id": str(i.product_id) if i.product_id else None, "sku": i.sku,
             "quantity": i.quantity}
            for i in items
        ],
    }
    raw = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(raw.encode()).hexdigest()
