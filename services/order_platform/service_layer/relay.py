"""The outbox relay: publish committed outbox rows to EventBridge, at least once.

Each cycle claims up to ten unpublished rows with ``FOR UPDATE SKIP LOCKED`` (so
several relays share the work without sending a row twice at the same time), sends
them in one PutEvents call, and in the same transaction marks published exactly the
entries EventBridge accepted. Rejected entries stay unpublished, count an attempt,
and wait out a jittered per-row backoff; only they are sent again. If the relay dies
between PutEvents and the commit, the rows are sent again by the next cycle: consumers
deduplicate on ``detail.event_id``, which never changes.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg2
from tenacity import Retrying, retry_if_exception_type, wait_random_exponential

from order_platform.adapters.db import Database
from order_platform.adapters.event_bus import (
    MAX_ENTRIES_PER_CALL,
    BusUnavailable,
    EntryResult,
    EventBus,
    OutgoingEvent,
)

log = logging.getLogger(__name__)

ROW_BACKOFF_BASE_SECONDS = 0.5
ROW_BACKOFF_CAP_SECONDS = 300.0


@dataclass(frozen=True)
class CycleReport:
    """What one relay cycle did."""

    claimed: int
    published: int
    failed: int


def _row_backoff(attempts: int) -> float:
    """Full-jitter exponential backoff for an entry EventBridge rejected."""
    return random.uniform(0, min(ROW_BACKOFF_CAP_SECONDS,
                                 ROW_BACKOFF_BASE_SECONDS * 2 ** attempts))


class OutboxRelay:
    """Publishes the outbox of one database to one bus."""

    def __init__(self, db: Database, bus: EventBus, *, batch_size: int = MAX_ENTRIES_PER_CALL,
                 after_publish: Callable[[list[EntryResult]], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 1 <= batch_size <= MAX_ENTRIES_PER_CALL:
            raise ValueError(f"batch_size must be 1..{MAX_ENTRIES_PER_CALL}")
        self._db = db
        self._bus = bus
        self._batch_size = batch_size
        # Test hook: runs after PutEvents answered and before the rows are marked.
        self._after_publish = after_publish or (lambda results: None)
        self._clock = clock
        # Rows EventBridge rejected, with the time they may be tried again. Memory
        # only: after a restart they are simply retried sooner.
        self._not_before: dict[int, float] = {}

    def publish_batch(self) -> CycleReport:
        """Claim, publish and mark one batch; raise BusUnavailable if PutEvents failed."""
        now = self._clock()
        self._not_before = {k: t for k, t in self._not_before.items() if t > now}
        with self._db.transaction() as cur:
            cur.execute(
                "SELECT id, event_id, event_type, source, detail, attempts FROM outbox "
                "WHERE published_at IS NULL AND NOT (id = ANY(%s)) "
                "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                (list(self._not_before), self._batch_size),
            )
            rows = cur.fetchall()
            if not rows:
                return CycleReport(0, 0, 0)
            # Raises BusUnavailable: the transaction rolls back and the rows stay claimable.
            results = self._bus.publish([
                OutgoingEvent(key=row["id"], detail_type=row["event_type"],
                              source=row["source"], detail=row["detail"])
                for row in rows
            ])
            self._after_publish(results)
            accepted = [r.key for r in results if r.accepted]
            if accepted:
                cur.execute("UPDATE outbox SET published_at = now(), attempts = attempts + 1, "
                            "last_error = NULL WHERE id = ANY(%s)", (accepted,))
            attempts = {row["id"]: row["attempts"] for row in rows}
            rejected = [r for r in results if not r.accepted]
            for result in rejected:
                cur.execute("UPDATE outbox SET attempts = attempts + 1, last_error = %s "
                            "WHERE id = %s", (result.error, result.key))
                self._not_before[result.key] = now + _row_backoff(attempts[result.key] + 1)
                log.warning("event rejected by the bus; will retry",
                            extra={"outbox_id": result.key, "error": result.error})
        return CycleReport(len(rows), len(accepted), len(rejected))

    def drain(self, max_batches: int = 1000) -> int:
        """Publish until nothing claimable is left (bounded); return rows published."""
        published = 0
        for _ in range(max_batches):
            report = self.publish_batch()
            published += report.published
            if report.claimed == 0:
                break
        return published


def run_until_stopped(relay: OutboxRelay, stop: threading.Event, *,
                      idle_seconds: float = 0.5, max_backoff_seconds: float = 30.0) -> None:
    """Publish continuously until ``stop``; back off with jitter while bus or DB is down."""
    retrying = Retrying(
        retry=retry_if_exception_type((BusUnavailable, psycopg2.OperationalError)),
        wait=wait_random_exponential(multiplier=0.5, max=max_backoff_seconds),
        stop=lambda state: stop.is_set(),
        sleep=stop.wait,  # a SIGTERM cuts a backoff short
        before_sleep=lambda state: log.warning(
            "relay cannot publish; backing off",
            extra={"attempt": state.attempt_number,
                   "error": str(state.outcome.exception()) if state.outcome else None}),
        reraise=True,
    )
    while not stop.is_set():
        try:
            report = retrying(relay.publish_batch)
        except (BusUnavailable, psycopg2.OperationalError):
            break  # only reached when stopping during an outage
        if report.published:
            log.info("outbox rows published", extra={"published": report.published,
                                                     "failed": report.failed})
        # A full batch means more may be waiting; anything less, pause briefly.
        if report.claimed < MAX_ENTRIES_PER_CALL or report.published == 0:
            stop.wait(idle_seconds)
