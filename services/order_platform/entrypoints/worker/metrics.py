"""The worker's instruments, bound to each queue: what was received and handled, how long it
took, how old each event was by then, and how long its order took to settle."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from order_platform import telemetry
from order_platform.adapters.metrics import Instruments


class QueueMetrics:
    """One queue's children of the worker's instruments (``ConsumerWatch``)."""

    def __init__(self, instruments: Instruments, queue: str) -> None:
        self._queue = queue
        self._received = instruments.counter(telemetry.MESSAGES_RECEIVED).labels(queue)
        self._receives = instruments.counter(telemetry.RECEIVES).labels(queue)
        self._handled = instruments.counter(telemetry.MESSAGES_HANDLED)
        self._duration = instruments.histogram(telemetry.HANDLER_DURATION).labels(queue)
        self._age = instruments.histogram(telemetry.MESSAGE_AGE).labels(queue)
        self._settle = instruments.histogram(telemetry.ORDER_SETTLE)

    def received(self, count: int) -> None:
        """``count`` messages came back from one receive."""
        self._receives.inc()
        self._received.inc(count)

    def handled(self, outcome: str, seconds: float) -> None:
        """A handler finished (``outcome``: the service layer's, or ``consumer.HELD`` /
        ``consumer.FAILED``)."""
        self._handled.labels(self._queue, outcome).inc()
        self._duration.observe(seconds)

    def event_age(self, occurred_at: object) -> None:
        """The event reached its handler; ``occurred_at`` is its envelope's ISO time."""
        age = _seconds_since(occurred_at)
        if age is not None:
            self._age.observe(age)

    def settled(self, status: str, placed_at: object) -> None:
        """An order reached its final ``status``; ``placed_at`` is when it was placed."""
        age = _seconds_since(placed_at)
        if age is not None:
            self._settle.labels(status).observe(age)


def _seconds_since(iso: object) -> float | None:
    if not isinstance(iso, str):
        return None
    try:
        then = datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None
    return max(0.0, time.time() - then)


def paused_gauge(instruments: Instruments, paused: Callable[[], bool]) -> None:
    """Report ``worker_paused`` from the gate itself, read at every scrape."""
    instruments.gauge(telemetry.DEPENDENCY_PAUSED).set_function(lambda: 1.0 if paused() else 0.0)


def extensions_counter(instruments: Instruments) -> Callable[[int], None]:
    """What the leases call with the number of leases they renewed."""
    return instruments.counter(telemetry.VISIBILITY_EXTENSIONS).inc
