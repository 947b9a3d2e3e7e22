"""The read side's port: what the queries and the consumers' early stock check read.

Reads on the reader endpoint, each one statement (one snapshot) outside any unit of work, as
cosmicpython's ``views.py`` reads beside its repositories. ``adapters.read_model`` answers
them on PostgreSQL, ``tests/unit/fakes.py`` in memory.
"""

from __future__ import annotations

import abc
import uuid
from typing import Any

from order_platform.domain.catalog import ProductRef
from order_platform.domain.stock import Shortage

Row = dict[str, Any]


class ReadModel(abc.ABC):
    """Orders and products as the reader has them (it may lag the writer)."""

    @abc.abstractmethod
    def order(self, order_id: uuid.UUID) -> Row | None:
        """The order's summary with its ``lines`` (product_id, sku, quantity,
        unit_price_cents, in line order) and ``history`` (status, reason, occurred_at)."""

    @abc.abstractmethod
    def orders(self, *, customer_id: str | None, status: str | None, limit: int,
               before_seq: int | None) -> list[Row]:
        """Up to ``limit`` order summaries (with their ``seq``) matching the filters that are
        not None, newest first, from below ``before_seq`` when it is given."""

    @abc.abstractmethod
    def product(self, ref: ProductRef) -> Row | None:
        """The product named by id or SKU."""

    @abc.abstractmethod
    def products(self, *, limit: int, after_sku: str | None) -> list[Row]:
        """Up to ``limit`` products in SKU order, after ``after_sku`` when it is given."""

    @abc.abstractmethod
    def shortages(self, wanted: dict[str, int]) -> list[Shortage] | None:
        """An early, advisory stock check (no locks); None when the reader cannot tell now
        (it is down, or was a moment ago): the writer decides anyway."""
