"""The outbox relay: publish the outbox to EventBridge until SIGTERM (``order-platform relay``).

Its own process (and, in the cloud, its own Deployment and IAM role): it needs only the
writer and ``events:PutEvents`` on the bus, it scales apart from the consumers, and the
worker never needs permission to publish.

Shutdown is bounded by one cycle: backoffs and idle pauses end at once on SIGTERM, and a
PutEvents call in progress ends within ``PUT_EVENTS_CONFIG``'s timeouts (two attempts of at
most 3 s to connect and 5 s to answer), well inside the grace period.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.config import Config

from order_platform import bootstrap, telemetry
from order_platform.adapters.db import DATABASE_DOWN, Database
from order_platform.adapters.event_bus import EventBus
from order_platform.adapters.metrics import Instruments
from order_platform.bootstrap import Runtime
from order_platform.entrypoints import daemon
from order_platform.processes import RELAY, Endpoint
from order_platform.service_layer.ports import EntryResult
from order_platform.service_layer.relay import OutboxRelay, backlog, run_until_stopped

log = logging.getLogger(__name__)

PUT_EVENTS_CONFIG = Config(retries={"total_max_attempts": 2, "mode": "standard"},
                           connect_timeout=3, read_timeout=5)
"""The relay retries outages itself, with jitter; boto only retries a blip once, so one
PutEvents call (and so a SIGTERM waiting for it) lasts at most about 17 s."""
IDLE_SECONDS = 0.25
"""Pause between outbox polls when nothing was waiting: an indexed, near-empty scan."""
IDLE_CAP_SECONDS = 1.0
"""The longest pause, reached after a few empty polls in a row: an idle writer then serves
one claim a second (bench-pipeline: idle statements per second), and the first event after a
quiet spell waits at most this long to be claimed."""
BACKLOG_SAMPLE_SECONDS = 1.0
"""How often the backlog gauges are refreshed: one count on the unpublished-rows index."""


class RelayMetrics:
    """The relay's instruments: events by type and outcome, and the outbox backlog."""

    def __init__(self, instruments: Instruments, writer: Database,
                 every_seconds: float = BACKLOG_SAMPLE_SECONDS) -> None:
        self._published = instruments.counter(telemetry.OUTBOX_PUBLISHED)
        self._failed = instruments.counter(telemetry.OUTBOX_FAILED)
        self._waiting = instruments.gauge(telemetry.OUTBOX_BACKLOG)
        self._oldest = instruments.gauge(telemetry.OUTBOX_OLDEST_AGE)
        self._parked = instruments.gauge(telemetry.OUTBOX_PARKED)
        self._writer = bootstrap.storage(writer).unit_of_work()  # the sampling thread's own
        self._every = every_seconds
        self._next = 0.0

    def published(self, event_type: str) -> None:
        """See ``RelayWatch``."""
        self._published.labels(event_type).inc()

    def rejected(self, event_type: str) -> None:
        """See ``RelayWatch``."""
        self._failed.labels(event_type).inc()

    def sample(self) -> None:
        """Refresh the backlog gauges, at most every ``every_seconds``; a failure (the
        database is down) leaves them as they were: the loop's own retries deal with it."""
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self._every
        try:
            seen = backlog(self._writer)
        except Exception:  # a gauge is never worth stopping the relay
            log.debug("backlog sample failed", exc_info=True)
            return
        self._waiting.set(seen.waiting)
        self._oldest.set(seen.oldest_age_seconds)
        self._parked.set(seen.parked)


@dataclass
class RelayLoop:
    """The relay's one loop, as a daemon."""

    relay: OutboxRelay
    writer: Database
    metrics: RelayMetrics
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=run_until_stopped, args=(self.relay, self.stop),
                                        kwargs={"outages": DATABASE_DOWN,
                                                "idle_seconds": IDLE_SECONDS,
                                                "idle_cap_seconds": IDLE_CAP_SECONDS,
                                                "after_cycle": self.metrics.sample},
                                        name="relay", daemon=True)

    def start(self) -> None:
        """Start publishing in the background."""
        self._thread.start()

    def alive(self) -> bool:
        """Liveness: the loop runs (or we are stopping on purpose)."""
        return self.stop.is_set() or self._thread.is_alive()

    def ready(self) -> bool:
        """Readiness: not stopping, and the writer answers."""
        if self.stop.is_set():
            return False
        self.writer.ping()
        return True

    def shutdown(self, grace_seconds: float) -> bool:
        """Finish the current batch; True when the loop ended in time."""
        self.stop.set()
        self._thread.join(grace_seconds)
        return not self._thread.is_alive()


def build_relay(runtime: Runtime, *,
                after_publish: Callable[[list[EntryResult]], None] | None = None) -> RelayLoop:
    """The relay on the runtime's writer pool; connects nothing yet.

    ``after_publish`` runs after PutEvents answered and before the rows are marked: the
    crash tests inject a hard exit there.
    """
    writer = runtime.storage(Endpoint.WRITER)
    bus = EventBus(runtime.client("events", config=PUT_EVENTS_CONFIG),
                   runtime.settings.event_bus_name, traces=runtime.tracing)
    metrics = RelayMetrics(runtime.metrics, writer.database)
    relay = OutboxRelay(writer.unit_of_work(), bus,
                        max_attempts=runtime.settings.relay_max_attempts,
                        after_publish=after_publish, watch=metrics)
    return RelayLoop(relay, writer.database, metrics)


def main(after_publish: Callable[[list[EntryResult]], None] | None = None) -> int:
    """Run the relay; exit 0 after a graceful stop. ``after_publish`` is for crash tests."""
    runtime = bootstrap.start_or_exit(RELAY)
    return daemon.serve(runtime, build_relay(runtime, after_publish=after_publish),
                        bus=runtime.settings.event_bus_name,
                        max_attempts=runtime.settings.relay_max_attempts)


if __name__ == "__main__":
    sys.exit(main())
