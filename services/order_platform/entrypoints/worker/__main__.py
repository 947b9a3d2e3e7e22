"""``order-worker``: consume the topology's queues until SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import sys

from order_platform.config import ConfigError, load_settings
from order_platform.entrypoints.probes import ProbeServer
from order_platform.entrypoints.worker.bootstrap import build_worker
from order_platform.logs import configure_logging
from order_platform.processes import WORKER

log = logging.getLogger("order_platform.worker")

SHUTDOWN_GRACE_SECONDS = 25.0
"""Inside Kubernetes' 30 s termination grace (and the local platform's 25 s). A stop takes
the longer of the running handlers and the rest of a long poll in progress (<= 20 s)."""


def main() -> int:
    """Run the worker; exit 0 after a graceful stop."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"order-worker: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, service="order-worker")
    worker = build_worker(settings)

    def request_stop(signum, frame) -> None:
        log.info("signal received; stopping polls, finishing in-flight messages",
                 extra={"signal": signal.Signals(signum).name})
        worker.stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    probes = ProbeServer(settings.health_port or WORKER.health_port, alive=worker.alive,
                         ready=worker.ready).start()
    worker.start()
    log.info("worker started", extra={"concurrency": settings.worker_concurrency,
                                       "poll_wait_seconds": settings.worker_poll_wait_seconds,
                                       "health_port": probes.port})
    while not worker.stop.wait(0.5):
        pass
    clean = worker.shutdown(SHUTDOWN_GRACE_SECONDS)
    probes.stop()
    log.info("worker stopped", extra={"clean": clean})
    if not clean:
        # A handler outlived the grace: leave now rather than wait for it at interpreter
        # exit and be SIGKILLed. Its transaction rolls back with the connection and its
        # message is redelivered (and deduped if it had committed).
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
