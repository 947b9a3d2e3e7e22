"""The outbox relay: publish committed outbox rows to EventBridge, at least once.

Each cycle claims up to ten unpublished rows with ``FOR NO KEY UPDATE SKIP LOCKED`` (so
several relays share the work without sending a row twice at the same time), sends
them in one PutEvents call, and in the same transaction marks published exactly the
entries EventBridge accepted. Rejected entries stay unpublished, count an attempt,
and wait out a jittered per-row backoff; only they are sent again. If the relay dies
between PutEvents and the commit, the rows are sent again by the next cycle: consumers
deduplicate on ``detail.event_id``, which never changes.

A row EventBridge rejects ``max_attempts`` times (an entry too large, a malformed
detail: things no retry will fix) is *parked*: ``parked_at`` is set, the relay logs
an error and never claims it again. ``parked_rows`` and ``unpark`` (behind
``order-platform dlq outbox`` and ``order-platform dlq outbox-retry``) show and replay parked rows.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from tenacity import Retrying, retry_if_exception_type, wait_random_exponential
from tenacity.wait import wait_base

from order_platform.service_layer.ports import (
    MAX_ENTRIES_PER_CALL,
    BusUnavailable,
    EntryResult,
    EventBus,
    OutgoingEvent,
)
from order_platform.service_layer.unit_of_work import (
    Backlog,
    Outbox,
    OutboxRow,
    Row,
    UnitOfWork,
)
from order_platform.topology import DEPENDENCY_PROBE

log = logging.getLogger(__name__)

ROW_BACKOFF_BASE_SECONDS = 0.5
ROW_BACKOFF_CAP_SECONDS = 300.0
DEFAULT_MAX_ATTEMPTS = 10
"""Rejections before a row is parked; with the backoff above, minutes of retrying."""


@dataclass(frozen=True)
class CycleReport:
    """What one relay cycle did: rows claimed (held until its commit), published, rejected by
    the bus this time (parked ones included), and parked."""

    claimed: int
    published: int
    failed: int
    parked: int = 0

    @property
    def full(self) -> bool:
        """A full batch went out, so more rows may be waiting: no pause before the next."""
        return self.claimed >= MAX_ENTRIES_PER_CALL and self.published > 0


class RelayWatch(Protocol):
    """Told what the bus did with each event (metrics)."""

    def published(self, event_type: str) -> None:
        """The bus accepted an event of ``event_type``."""

    def rejected(self, event_type: str) -> None:
        """The bus rejected one (it is retried, or parked)."""


class _Unwatched:
    def published(self, event_type: str) -> None:
        pass

    def rejected(self, event_type: str) -> None:
        pass


def backlog(uow: UnitOfWork) -> Backlog:
    """The outbox's backlog."""
    with uow:
        return uow.outbox.backlog()


def _row_backoff(attempts: int) -> float:
    """Full-jitter exponential backoff for an entry EventBridge rejected."""
    return random.uniform(0, min(ROW_BACKOFF_CAP_SECONDS,
                                 ROW_BACKOFF_BASE_SECONDS * 2 ** attempts))


class OutboxRelay:
    """Publishes the outbox of one database to one bus."""

    def __init__(self, uow: UnitOfWork, bus: EventBus, *,
                 batch_size: int = MAX_ENTRIES_PER_CALL,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS,
                 after_publish: Callable[[list[EntryResult]], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 watch: RelayWatch | None = None) -> None:
        if not 1 <= batch_size <= MAX_ENTRIES_PER_CALL:
            raise ValueError(f"batch_size must be 1..{MAX_ENTRIES_PER_CALL}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._max_attempts = max_attempts
        self._uow = uow
        self._bus = bus
        self._batch_size = batch_size
        # Test hook: runs after PutEvents answered and before the rows are marked.
        self._after_publish = after_publish or (lambda results: None)
        self._clock = clock
        self._watch = watch or _Unwatched()
        # Rows EventBridge rejected, with the time they may be tried again. Memory
        # only: after a restart they are simply retried sooner.
        self._not_before: dict[int, float] = {}

    def publish_batch(self) -> CycleReport:
        """Claim, publish and mark one batch; raise BusUnavailable if PutEvents failed."""
        now = self._clock()
        self._not_before = {k: t for k, t in self._not_before.items() if t > now}
        outage: BusUnavailable | None = None
        with self._uow as uow:
            rows = uow.outbox.claim(self._batch_size, skipping=self._not_before)
            if not rows:
                return CycleReport(0, 0, 0)
            try:
                results = self._bus.publish([
                    OutgoingEvent(key=row.id, detail_type=row.event_type, source=row.source,
                                  detail=row.detail) for row in rows])
            except BusUnavailable as exc:
                if not exc.settled:
                    raise  # the claim rolls back; the rows stay claimable, no attempt counted
                # A later call failed: record what the earlier calls settled, then back off.
                results, outage = exc.settled, exc
            self._after_publish(results)
            types = {row.id: row.event_type for row in rows}
            for result in results:
                (self._watch.published if result.accepted else self._watch.rejected)(
                    types[result.key])
            accepted = [r.key for r in results if r.accepted]
            if accepted:
                uow.outbox.mark_published(accepted)
            rejected = [r for r in results if not r.accepted]
            parked = self._record_rejections(uow.outbox, {row.id: row for row in rows},
                                             rejected, now)
            uow.commit()
        if outage is not None:
            raise outage
        return CycleReport(len(rows), len(accepted), len(rejected), parked)

    def _record_rejections(self, outbox: Outbox, rows: dict[int, OutboxRow],
                           rejected: list[EntryResult], now: float) -> int:
        """Count an attempt for each rejected row; park those out of attempts."""
        parked = 0
        for result in rejected:
            row = rows[result.key]
            attempts = row.attempts + 1
            error = result.error or "rejected"
            park = attempts >= self._max_attempts
            outbox.mark_rejected(row.id, attempts, error, park=park)
            if park:
                self._not_before.pop(row.id, None)
                parked += 1
                log.error("outbox row PARKED: the bus rejected it on every attempt; it is no "
                          "longer retried (see `order-platform dlq outbox`, replay with "
                          "`order-platform dlq outbox-retry`)",
                          extra={"outbox_id": row.id, "event_id": row.event_id,
                                 "event_type": row.event_type, "attempts": attempts,
                                 "error": result.error})
                continue
            self._not_before[row.id] = now + _row_backoff(attempts)
            log.warning("event rejected by the bus; will retry",
                        extra={"outbox_id": row.id, "event_id": row.event_id,
                               "attempts": attempts, "max_attempts": self._max_attempts,
                               "error": result.error})
        return parked

    def drain(self, max_batches: int = 1000) -> int:
        """Publish until nothing claimable is left (bounded); return rows published."""
        published = 0
        for _ in range(max_batches):
            report = self.publish_batch()
            published += report.published
            if report.claimed == 0:
                break
        return published


def outage_wait(max_backoff_seconds: float) -> wait_base:
    """Exponential backoff with full jitter (0.5 s * 2^n, capped) between outage retries.

    Full jitter spreads the retries of many relays (and pods restarting together) over
    the whole window, so a recovering bus is not hit by all of them at once.
    """
    return wait_random_exponential(multiplier=0.5, max=max_backoff_seconds)


def run_until_stopped(relay: OutboxRelay, stop: threading.Event, *,
                      outages: tuple[type[BaseException], ...] = (),
                      idle_seconds: float = 0.5,
                      idle_cap_seconds: float | None = None,
                      max_backoff_seconds: float = DEPENDENCY_PROBE.cap_seconds,
                      after_cycle: Callable[[], None] = lambda: None) -> None:
    """Publish continuously until ``stop``; back off with jitter while the bus is down, or
    the database (``outages``: the errors that mean it is). ``after_cycle`` runs after every
    cycle that reached the database (the backlog sampler). After a cycle that found nothing,
    the pause doubles from ``idle_seconds`` up to ``idle_cap_seconds`` (by default it stays),
    and the first cycle that finds a row sets it back.

    The waits are capped at the topology's ``DEPENDENCY_PROBE`` cap, a few seconds, so that
    the relay publishes again within seconds of either answering. A handful of relays, each
    trying once every few seconds with full jitter, is no load on a recovering bus.
    """
    down: tuple[type[BaseException], ...] = (BusUnavailable, *outages)

    def pause(seconds: float) -> None:
        stop.wait(seconds)  # a SIGTERM cuts a backoff short

    retrying = Retrying(
        retry=retry_if_exception_type(down),
        wait=outage_wait(max_backoff_seconds),
        stop=lambda state: stop.is_set(),
        sleep=pause,
        before_sleep=lambda state: log.warning(
            "relay cannot publish; backing off",
            extra={"attempt": state.attempt_number,
                   "backoff_seconds": state.next_action.sleep if state.next_action else None,
                   "error": str(state.outcome.exception()) if state.outcome else None}),
        reraise=True,
    )
    idle, longest_idle = idle_seconds, max(idle_seconds, idle_cap_seconds or idle_seconds)
    while not stop.is_set():
        try:
            report = retrying(relay.publish_batch)
        except down:
            break  # only reached when stopping during an outage
        after_cycle()
        if report.published or report.parked:
            log.info("outbox rows published", extra={"published": report.published,
                                                     "failed": report.failed,
                                                     "parked": report.parked})
        if not report.claimed:  # nothing waiting: pause, and pause twice as long next time
            stop.wait(idle)
            idle = min(2 * idle, longest_idle)
        else:  # back to the short pause, and none while a full batch may leave more behind
            idle = idle_seconds
            if not report.full:
                stop.wait(idle)


def parked_rows(uow: UnitOfWork, limit: int = 100) -> list[Row]:
    """Parked outbox rows, oldest first; the detail's size instead of the (maybe huge) detail."""
    with uow:
        return uow.outbox.parked(limit)


def unpark(uow: UnitOfWork, ids: Sequence[int] | None = None) -> list[int]:
    """Make parked rows claimable again with a fresh attempt budget; None means all of them.

    Fix the cause first (or the rows park again after ``max_attempts``). ``last_error``
    is kept until the next attempt overwrites it.
    """
    with uow:
        unparked = uow.outbox.unpark(ids)
        uow.commit()
    return unparked
