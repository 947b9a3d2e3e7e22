"""``order-relay``: publish the outbox to EventBridge until SIGTERM.

Its own process (and, in the cloud, its own Deployment and IAM role): it needs only
the writer and ``events:PutEvents`` on the bus, it scales apart from the consumers,
and the worker never needs permission to publish.

Shutdown is bounded by one cycle: backoffs and idle pauses end at once on SIGTERM,
and a PutEvents call in progress ends within ``PUT_EVENTS_CONFIG``'s timeouts (two
attempts of at most 3 s to connect and 5 s to answer), well inside the grace period.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from botocore.config import Config

from order_platform.adapters import aws
from order_platform.adapters.credentials import SecretsManagerCredentials
from order_platform.adapters.db import Database
from order_platform.adapters.event_bus import EventBus
from order_platform.config import ConfigError, Settings, load_settings
from order_platform.entrypoints.crash_hook import crash_hook
from order_platform.entrypoints.probes import ProbeServer
from order_platform.logs import configure_logging
from order_platform.processes import RELAY
from order_platform.service_layer.relay import OutboxRelay, run_until_stopped

log = logging.getLogger("order_platform.relay")

SHUTDOWN_GRACE_SECONDS = 25.0
"""Inside Kubernetes' 30 s termination grace (and the local platform's 25 s)."""
PUT_EVENTS_CONFIG = Config(retries={"total_max_attempts": 2, "mode": "standard"},
                           connect_timeout=3, read_timeout=5)
"""The relay retries outages itself, with jitter; boto only retries a blip once, so one
PutEvents call (and so a SIGTERM waiting for it) lasts at most about 17 s."""
IDLE_SECONDS = 0.25
"""Pause between outbox polls when nothing is waiting: an indexed, near-empty scan."""


def build_relay(settings: Settings) -> tuple[OutboxRelay, Database]:
    """The relay and its writer pool, from settings; connects nothing yet."""
    credentials = SecretsManagerCredentials(aws.client("secretsmanager", settings),
                                            settings.db_secret_arn)
    writer = Database(host=settings.db_writer_endpoint, port=settings.db_port,
                      dbname=settings.db_name, credentials=credentials,
                      max_connections=2, application_name="order-relay")
    bus = EventBus(aws.client("events", settings, config=PUT_EVENTS_CONFIG),
                   settings.event_bus_name)
    relay = OutboxRelay(writer, bus, max_attempts=settings.relay_max_attempts,
                        after_publish=crash_hook("relay.after_publish"))
    return relay, writer


def main() -> int:
    """Run the relay; exit 0 after a graceful stop."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"order-relay: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, service="order-relay")
    relay, writer = build_relay(settings)
    stop = threading.Event()

    def request_stop(signum, frame) -> None:
        log.info("signal received; finishing the current batch",
                 extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    loop = threading.Thread(target=run_until_stopped, args=(relay, stop),
                            kwargs={"idle_seconds": IDLE_SECONDS}, name="relay", daemon=True)

    def ready() -> bool:
        if stop.is_set():
            return False
        writer.ping()
        return True

    probes = ProbeServer(settings.health_port or RELAY.health_port,
                         alive=lambda: stop.is_set() or loop.is_alive(), ready=ready).start()
    loop.start()
    log.info("relay started", extra={"bus": settings.event_bus_name, "health_port": probes.port,
                                      "max_attempts": settings.relay_max_attempts})
    while not stop.wait(0.5):
        if not loop.is_alive():
            log.error("relay loop died; exiting so the pod restarts")
            stop.set()
            probes.stop()
            return 1
    loop.join(SHUTDOWN_GRACE_SECONDS)
    probes.stop()
    writer.close()
    clean = not loop.is_alive()
    log.info("relay stopped", extra={"clean": clean})
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
