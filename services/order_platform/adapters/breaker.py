"""A circuit breaker for an optional dependency: after a run of failures, stop trying for a
while, then let one call through to see whether it is back.

The product cache is such a dependency: the read API answers from the reader without it, so
while it is down every request should go straight to the reader instead of paying a timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import StrEnum

log = logging.getLogger(__name__)


class State(StrEnum):
    """Where the breaker is."""

    CLOSED = "closed"
    """Calls go through; failures are counted."""
    OPEN = "open"
    """Calls are refused without trying, until the cool-down has passed."""
    HALF_OPEN = "half-open"
    """One trial call is in flight; the others are refused until it tells."""


class CircuitBreaker:
    """Opens after ``failures_to_open`` failures in a row; after ``open_seconds`` one trial
    call goes through (half-open): its success closes the breaker, its failure opens it again.

    Thread-safe; the clock is injected so the state machine is tested without waiting.
    """

    def __init__(self, name: str, *, failures_to_open: int, open_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._failures_to_open = failures_to_open
        self._open_seconds = open_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._state = State.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self.opened = 0
        """How many times it opened (for tests and logs)."""

    @property
    def state(self) -> State:
        """The current state (OPEN reads as such even once a trial would be allowed)."""
        return self._state

    def allow(self) -> bool:
        """True if a call may go out now. In half-open, only the caller that got True makes
        the trial; it must report with ``success`` or ``failure``."""
        if self._closed():
            return True  # the common case, without the lock on every cache call
        with self._lock:
            if self._closed():  # closed meanwhile
                return True
            # A trial that never reported (its caller died) does not hold the breaker for
            # ever: after another cool-down the next caller makes a new one.
            if self._clock() - self._opened_at >= self._open_seconds:
                self._state, self._opened_at = State.HALF_OPEN, self._clock()
                return True
            return False

    def _closed(self) -> bool:
        return self._state is State.CLOSED

    def success(self) -> None:
        """The call worked: close (from any state) and forget past failures."""
        if self._state is State.CLOSED and not self._failures:
            return  # the common case, without the lock on every cache call
        with self._lock:
            was = self._state
            self._state, self._failures = State.CLOSED, 0
        if was is not State.CLOSED:
            log.warning("%s answers again; breaker closed", self.name)

    def failure(self, exc: BaseException | None = None) -> None:
        """The call failed: count it; open on the n-th in a row, or when a trial failed."""
        with self._lock:
            self._failures += 1
            if self._state is State.HALF_OPEN or (
                    self._state is State.CLOSED and self._failures >= self._failures_to_open):
                self._state, self._opened_at = State.OPEN, self._clock()
                self.opened += 1
                opened = True
            else:
                opened = False
        if opened:
            log.warning("%s failing; breaker open for %ss", self.name, self._open_seconds,
                        extra={"error": str(exc)[:300] if exc else None})
