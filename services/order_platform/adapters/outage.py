"""Telling a dependency that is down from a message that cannot be handled, and pausing work
while a dependency is down.

Only a failure of the message itself may spend its receive budget (``maxReceiveCount``): a
database that is restarting, failing over or frozen says nothing about the message, and a
backlog must not drain into the dead-letter queues while it lasts.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from enum import StrEnum

import psycopg2
import psycopg2.errors
from botocore.exceptions import BotoCoreError, ClientError

from order_platform.adapters.credentials import CredentialsError
from order_platform.service_layer.ports import CacheUnavailable, PoisonMessage
from order_platform.topology import Backoff

log = logging.getLogger(__name__)


class Failure(StrEnum):
    """Why handling a message failed."""

    DEPENDENCY = "dependency"
    """The database, Secrets Manager, SQS or the product cache did not answer: pause, hold
    the message."""
    CONTENTION = "contention"
    """A lock or statement timeout, a deadlock, a serialization failure: retry it soon."""
    POISON = "poison"
    """The message can never be handled: let SQS dead-letter it quickly."""
    MESSAGE = "message"
    """Anything else (a bug, an order that is not there): retry with backoff, then DLQ."""


# Cancelled by the server's own limits, or by a conflict: the database is up and answering.
_CONTENTION = (psycopg2.errors.QueryCanceled, psycopg2.errors.LockNotAvailable,
               psycopg2.errors.DeadlockDetected, psycopg2.errors.SerializationFailure)
# A writer endpoint that, mid-failover, still points at the old writer, now a reader.
_FAILOVER = (psycopg2.errors.ReadOnlySqlTransaction,)


def classify(exc: BaseException) -> Failure:
    """The kind of failure ``exc`` is, for the consumer that caught it."""
    if isinstance(exc, PoisonMessage):
        return Failure.POISON
    if isinstance(exc, _CONTENTION):
        return Failure.CONTENTION
    if isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError, *_FAILOVER,
                        CredentialsError, BotoCoreError, ClientError, CacheUnavailable)):
        return Failure.DEPENDENCY
    return Failure.MESSAGE


def jittered(backoff: Backoff, attempt: int) -> float:
    """``backoff``'s delay with equal jitter: half fixed, half random, so that many workers
    recovering at once spread out, and none retries at once in a tight loop."""
    delay = backoff.delay(attempt)
    return delay / 2 + random.uniform(0, delay / 2)


class DependencyGate:
    """A circuit breaker in front of the work: closed, work flows; open, it waits.

    Any handler that meets a dependency failure trips it. While it is open, one waiting
    thread at a time probes the dependency, with jittered backoff; the first probe that
    passes closes it. A gate that starts unverified probes before the first piece of work,
    so a worker started during an outage receives nothing until the database answers.
    """

    def __init__(self, probe: Callable[[], None], backoff: Backoff, *,
                 verified: bool = False, clock: Callable[[], float] = time.monotonic) -> None:
        self._probe = probe
        self._backoff = backoff
        self._clock = clock
        self._lock = threading.Lock()
        self._closed = verified
        self._probing = False
        self._failed_probes = 0
        self._opened_at = clock()
        self._next_probe = clock()
        self.trips = 0

    @classmethod
    def unguarded(cls) -> DependencyGate:
        """A gate that never opens: for consumers whose handlers guard nothing (tests)."""
        return cls(lambda: None, Backoff(0, 0), verified=True)

    @property
    def closed(self) -> bool:
        """True while work may flow."""
        return self._closed

    def trip(self, exc: BaseException) -> None:
        """Stop the work: a dependency failed."""
        with self._lock:
            if not self._closed:
                return
            self._closed = False
            self._failed_probes = 0
            self._opened_at = self._clock()
            self._next_probe = self._opened_at + jittered(self._backoff, 1)
            self.trips += 1
        log.warning("a dependency is down; pausing work until it answers",
                    extra={"error": str(exc)[:300], "error_type": type(exc).__name__})

    def wait_closed(self, stop: threading.Event, poll_seconds: float = 0.2) -> bool:
        """Block until the gate is closed (True), or ``stop`` is set (False)."""
        while not stop.is_set():
            with self._lock:
                if self._closed:
                    return True
                now = self._clock()
                mine = not self._probing and now >= self._next_probe
                if mine:
                    self._probing = True
                wait = min(poll_seconds, max(0.0, self._next_probe - now))
            if mine:
                self._run_probe()
            else:
                stop.wait(wait)
        return False

    def _run_probe(self) -> None:
        try:
            self._probe()
        except Exception as exc:
            with self._lock:
                self._probing = False
                self._failed_probes += 1
                self._next_probe = self._clock() + jittered(self._backoff,
                                                            self._failed_probes + 1)
            log.info("dependency still down", extra={"error": str(exc)[:300],
                                                     "probes": self._failed_probes})
            return
        with self._lock:
            self._probing = False
            self._closed = True
            outage = self._clock() - self._opened_at
        log.warning("dependencies answer again; resuming work",
                    extra={"paused_seconds": round(outage, 2)})
