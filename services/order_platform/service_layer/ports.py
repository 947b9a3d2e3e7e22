"""The service layer's other ports: the event bus the relay publishes to, the product cache, and
what a consumer says about a message it can never handle.

``adapters.event_bus`` and ``adapters.cache`` implement them; tests use their own fakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

MAX_ENTRIES_PER_CALL = 10
"""The PutEvents limit on entries per request, and so the relay's largest batch."""


@dataclass(frozen=True)
class BusEvent:
    """An event as the bus carries it: its type, where it comes from, and its body."""

    detail_type: str
    source: str
    detail: dict[str, Any]
    """The body, with the event's id, time and trace (``topology.ENVELOPE_FIELDS``)."""


@dataclass(frozen=True)
class OutgoingEvent(BusEvent):
    """One event to publish; ``key`` (an outbox row's id) matches it to its result."""

    key: Any


@dataclass(frozen=True)
class EntryResult:
    """The bus's answer for one event: accepted with an envelope id, or the bus's error."""

    key: Any
    accepted: bool
    envelope_id: str | None = None
    error: str | None = None


class BusUnavailable(Exception):
    """A publishing call itself failed; none of its events is known to be accepted.

    ``settled`` holds the results of the calls of the same ``publish`` that had already
    succeeded, so their accepted events are recorded and not sent again.
    """

    def __init__(self, message: str, settled: Sequence[EntryResult] = ()) -> None:
        super().__init__(message)
        self.settled = list(settled)


class EventBus(Protocol):
    """Where the relay publishes."""

    def publish(self, events: Sequence[OutgoingEvent]) -> list[EntryResult]:
        """One result per event; ``BusUnavailable`` when a call as a whole failed."""


class CacheUnavailable(Exception):
    """The cache did not answer (or is not being tried); the caller does without it."""


class Cache(Protocol):
    """A shared cache with the few atomic operations cache-aside needs; every failure is
    ``CacheUnavailable``."""

    def get(self, key: str) -> bytes | None:
        """The value at ``key``, None on a miss."""

    def fill(self, key: str, value: bytes, *, ttl_ms: int, changed_marker: str,
             settling_ttl_ms: int) -> bool:
        """Store ``value`` for ``ttl_ms``, or for ``settling_ttl_ms`` while ``changed_marker``
        exists; True when stored with the full TTL."""

    def acquire(self, lock_key: str, ttl_ms: int) -> str | None:
        """Take the fill lock ``lock_key`` for at most ``ttl_ms``; its token, or None if taken."""

    def release(self, lock_key: str, token: str) -> None:
        """Give the fill lock back, if it is still ours."""

    def evict(self, keys: Sequence[str], *, markers: Sequence[str], marker_ttl_ms: int,
              generations: Sequence[str] = ()) -> None:
        """At once: set the changed ``markers``, delete ``keys``, bump the ``generations``."""


class PoisonMessage(Exception):
    """The message can never be handled (broken JSON, unknown type, bad detail)."""
