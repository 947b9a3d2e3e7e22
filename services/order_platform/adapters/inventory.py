"""The stock consumers' storage on PostgreSQL: the SQL behind ``service_layer.inventory``."""

from __future__ import annotations

import contextlib
import logging
import time
import weakref
from collections.abc import Iterator
from typing import Any

import psycopg2

from order_platform.adapters import outbox, processed_events
from order_platform.adapters.credentials import CredentialsError
from order_platform.adapters.db import Database
from order_platform.adapters.few_trips import FewTrips
from order_platform.domain.model import OrderStatus
from order_platform.domain.stock import OrderMissing, Shortage, shortages_in
from order_platform.topology import EventType

log = logging.getLogger(__name__)


# The statements, named: bench/bare_worker.py (the benchmark's reference) runs these same ones.
STOCK = "SELECT id::text AS id, sku, stock FROM products WHERE id = ANY(%s::uuid[])"
ORDER_LINES = ("SELECT l.product_id::text AS product_id, p.sku, l.quantity, "
               "l.unit_price_cents FROM order_lines l "
               "JOIN products p ON p.id = l.product_id "
               "WHERE l.order_id = %s ORDER BY l.line_no")
DEDUCT = ("UPDATE products SET stock = stock - %s, updated_at = now() "
          "WHERE id = %s AND stock >= %s")
LOCK_PRODUCTS = ("SELECT id FROM products WHERE id = ANY(%s::uuid[]) ORDER BY id "
                 "FOR NO KEY UPDATE")
SET_STATUS = ("UPDATE orders SET status = %s, rejection_reason = %s, updated_at = now() "
              "WHERE id = %s")
ADD_HISTORY = "INSERT INTO order_status_history (order_id, status, reason) VALUES (%s, %s, %s)"


def find_shortages(cur, wanted: dict[str, int]) -> list[Shortage]:
    """Compare ``wanted`` with the stock ``cur`` sees (no locks); products in id order."""
    cur.execute(STOCK, (list(wanted),))
    return shortages_in(wanted, {row["id"]: (row["stock"], row["sku"])
                                 for row in cur.fetchall()})


class SqlInventory:
    """``Inventory`` on one open writer transaction (``few_trips.FewTrips``).

    The status change, its history row and the outbox event are deferred: they go to the
    server with the next read or with the COMMIT, in the same transaction and order.
    """

    def __init__(self, tx: FewTrips) -> None:
        self._tx = tx

    def claim_order(self, consumer: str, event_id: str, order_id: str) -> OrderStatus | None:
        """The order locked and the event claimed, in one round trip (see
        ``processed_events``); None for a redelivery."""
        status, first = processed_events.claim_order(self._tx, consumer, event_id, order_id)
        if status is None:
            raise OrderMissing(f"order {order_id} not found on the writer")
        return OrderStatus(status) if first else None

    def order_lines(self, order_id: str) -> list[dict[str, Any]]:
        """The order's own lines on the writer: authoritative, unlike an event's copy. With
        each product's SKU, which InventoryUpdated carries so the product cache can evict the
        product's entry by SKU as well as by id."""
        rows = self._tx.execute(ORDER_LINES, (order_id,))
        return [dict(row) for row in rows.fetchall()]

    def shortages(self, wanted: dict[str, int]) -> list[Shortage]:
        """What the writer cannot fill now."""
        return find_shortages(self._tx, wanted)

    def deduct(self, wanted: dict[str, int]) -> bool:
        """Conditional decrements inside a savepoint: every line or none."""
        tx = self._tx
        if len(wanted) == 1:
            # One line is one conditional UPDATE: atomic by itself, so no savepoint, and one
            # row lock, so no lock order to keep.
            ((product_id, quantity),) = wanted.items()
            return tx.execute(DEDUCT, (quantity, product_id, quantity)).rowcount == 1
        # One fixed lock order (product id) for every order: two orders that share
        # products queue behind each other instead of deadlocking. FOR NO KEY UPDATE, not
        # FOR UPDATE: new order lines reference these rows (their foreign key takes FOR KEY
        # SHARE), so a worker stalled here must not stop order intake for these products.
        tx.defer(LOCK_PRODUCTS, (list(wanted),))
        tx.defer("SAVEPOINT deduct")
        short = False
        for product_id in sorted(wanted):
            updated = tx.execute(DEDUCT, (wanted[product_id], product_id,
                                          wanted[product_id]))
            short = short or updated.rowcount != 1
        # All or nothing: undo the lines that did fit.
        tx.defer("ROLLBACK TO SAVEPOINT deduct" if short else "RELEASE SAVEPOINT deduct")
        return not short

    def move(self, order_id: str, target: OrderStatus, reason: str | None = None) -> None:
        """The status and its history row, together (deferred)."""
        self._tx.defer(SET_STATUS, (target.value, reason, order_id))
        self._tx.defer(ADD_HISTORY, (order_id, target.value, reason))

    def add_event(self, event_type: EventType, detail: dict[str, Any]) -> None:
        """An outbox row in this transaction (deferred)."""
        outbox.add_event(self._tx.later, event_type, detail)


READER_COOLDOWN_SECONDS = 5.0
"""After the reader fails, the advisory check skips it this long: the writer decides anyway,
and a frozen reader would otherwise cost every message a deadline."""
_reader_down_until: weakref.WeakKeyDictionary[Database, float] = weakref.WeakKeyDictionary()


class SqlInventoryUnitOfWork:
    """``InventoryUnitOfWork`` on the writer and the reader pools."""

    def __init__(self, writer: Database, reader: Database) -> None:
        self._writer = writer
        self._reader = reader

    def reader_shortages(self, wanted: dict[str, int]) -> list[Shortage] | None:
        """The reader's view, in its own short read-only transaction; None while the reader
        is down (its outage must not stop the pipeline: the writer checks instead)."""
        if _reader_down_until.get(self._reader, 0.0) > time.monotonic():
            return None
        try:
            with self._reader.statement() as cur:
                return find_shortages(cur, wanted)
        except (psycopg2.OperationalError, psycopg2.InterfaceError, CredentialsError) as exc:
            _reader_down_until[self._reader] = time.monotonic() + READER_COOLDOWN_SECONDS
            log.warning("the reader does not answer; checking stock on the writer",
                        extra={"error": str(exc)[:300]})
            return None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[SqlInventory]:
        """One writer transaction, in as few round trips as it has reads."""
        with self._writer.in_few_trips() as tx:
            yield SqlInventory(tx)
