"""How the worker and the relay run: probes, signals, a bounded graceful stop.

Both are loops that must stop on SIGTERM within the catalogue's shutdown grace, answer the
kubelet's probes meanwhile, and exit non-zero when a loop dies, so the pod restarts.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType
from typing import Protocol

from order_platform.bootstrap import Runtime
from order_platform.entrypoints.probes import ProbeServer

LOOP_CHECK_SECONDS = 0.5


class Daemon(Protocol):
    """What ``serve`` needs from a long-running process."""

    stop: threading.Event

    def start(self) -> None:
        """Start the loops in background threads."""

    def alive(self) -> bool:
        """Liveness: every loop runs (or we are stopping on purpose)."""

    def ready(self) -> bool:
        """Readiness: not stopping, and the dependencies answer."""

    def shutdown(self, grace_seconds: float) -> bool:
        """Stop, finishing in-flight work; True when everything finished in time."""


def serve(runtime: Runtime, daemon: Daemon, **started: object) -> int:
    """Run ``daemon`` until SIGTERM or SIGINT; 0 after a clean stop, 1 otherwise."""
    role = runtime.process.role
    log = logging.getLogger(f"order_platform.{role}")

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal received; stopping, finishing in-flight work",
                 extra={"signal": signal.Signals(signum).name})
        daemon.stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    probes = ProbeServer(runtime.health_port, alive=daemon.alive, ready=daemon.ready,
                         metrics=runtime.metrics.exposition).start()
    daemon.start()
    log.info(f"{role} started", extra={"health_port": probes.port, **started})
    died = False
    while not daemon.stop.wait(LOOP_CHECK_SECONDS):
        if not daemon.alive():
            log.error(f"a {role} loop died; exiting so the pod restarts")
            died = True
            daemon.stop.set()
    clean = daemon.shutdown(runtime.process.shutdown_grace_seconds) and not died
    probes.stop()
    runtime.close()
    log.info(f"{role} stopped", extra={"clean": clean})
    if not clean:
        # A loop outlived the grace: leave now rather than wait for it at interpreter exit
        # and be SIGKILLed. An open transaction rolls back with its connection, and its
        # message is redelivered (and deduplicated if it had committed).
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(1)
    return 0
