"""The read side on PostgreSQL's reader: one statement per read, in autocommit (one snapshot
each, no BEGIN or COMMIT round trips). The port is ``service_layer.read_model``."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime

from order_platform.adapters.db import DATABASE_DOWN, Database
from order_platform.adapters.products import COLUMNS, find_shortages
from order_platform.domain.catalog import ProductRef
from order_platform.domain.stock import Shortage
from order_platform.service_layer.read_model import ReadModel, Row

log = logging.getLogger(__name__)

_SUMMARY = "id, seq, customer_id, status, rejection_reason, total_cents, created_at, updated_at"
# One statement, so order, lines and history come from one snapshot: a status that changes
# meanwhile cannot show up in the order but not yet in its history. bench/bare_app.py runs it.
ORDER_DETAIL = f"""
SELECT {_SUMMARY},
  COALESCE((SELECT json_agg(json_build_object(
              'line_no', l.line_no, 'product_id', l.product_id, 'sku', p.sku,
              'quantity', l.quantity, 'unit_price_cents', l.unit_price_cents)
            ORDER BY l.line_no)
            FROM order_lines l JOIN products p ON p.id = l.product_id
            WHERE l.order_id = o.id), '[]') AS lines,
  COALESCE((SELECT json_agg(json_build_object(
              'status', h.status, 'reason', h.reason, 'occurred_at', h.occurred_at)
            ORDER BY h.id)
            FROM order_status_history h WHERE h.order_id = o.id), '[]') AS history
FROM orders o WHERE o.id = %s
"""

READER_COOLDOWN_SECONDS = 5.0
"""After the reader fails, the advisory stock check skips it this long: the writer decides
anyway, and a frozen reader would otherwise cost every message a deadline."""


class SqlReadModel(ReadModel):
    """``ReadModel`` on one (reader) pool; safe to share between threads."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._down_until = 0.0

    def _one(self, sql: str, params: tuple[object, ...]) -> Row | None:
        with self._database.session(transaction=False) as session:
            return session.execute(sql, params).one()

    def _all(self, sql: str, params: tuple[object, ...]) -> list[Row]:
        with self._database.session(transaction=False) as session:
            return session.execute(sql, params).all()

    def order(self, order_id: uuid.UUID) -> Row | None:
        """See ``ReadModel.order``."""
        order = self._one(ORDER_DETAIL, (order_id,))
        if order is not None:
            for entry in order["history"]:
                entry["occurred_at"] = datetime.fromisoformat(entry["occurred_at"])
        return order

    def orders(self, *, customer_id: str | None, status: str | None, limit: int,
               before_seq: int | None) -> list[Row]:
        """See ``ReadModel.orders``: keyset on ``orders.seq``."""
        conditions, params = [], []
        for condition, value in (("customer_id = %s", customer_id), ("status = %s", status),
                                 ("seq < %s", before_seq)):
            if value is not None:
                conditions.append(condition)
                params.append(value)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        return self._all(f"SELECT {_SUMMARY} FROM orders {where} ORDER BY seq DESC LIMIT %s",
                         (*params, limit))

    def product(self, ref: ProductRef) -> Row | None:
        """See ``ReadModel.product``."""
        where, key = ("id = %s", ref.product_id) if ref.product_id else ("sku = %s", ref.sku)
        return self._one(f"SELECT {COLUMNS} FROM products WHERE {where}", (key,))

    def products(self, *, limit: int, after_sku: str | None) -> list[Row]:
        """See ``ReadModel.products``: keyset on the unique SKU."""
        if after_sku is None:
            return self._all(f"SELECT {COLUMNS} FROM products ORDER BY sku LIMIT %s", (limit,))
        return self._all(f"SELECT {COLUMNS} FROM products WHERE sku > %s ORDER BY sku LIMIT %s",
                         (after_sku, limit))

    def shortages(self, wanted: dict[str, int]) -> list[Shortage] | None:
        """See ``ReadModel.shortages``: None while the reader is down (its outage must not
        stop the pipeline: the writer checks instead)."""
        if self._down_until > time.monotonic():
            return None
        try:
            with self._database.session(transaction=False) as session:
                return find_shortages(session, wanted)
        except DATABASE_DOWN as exc:
            self._down_until = time.monotonic() + READER_COOLDOWN_SECONDS
            log.warning("the reader does not answer; checking stock on the writer",
                        extra={"error": str(exc)[:300]})
            return None
