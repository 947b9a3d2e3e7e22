"""The worker: consume the topology's queues until SIGTERM (``order-platform worker``)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from order_platform import bootstrap
from order_platform.adapters.queues import ReceivedMessage
from order_platform.entrypoints import daemon
from order_platform.entrypoints.worker.wiring import build_worker
from order_platform.processes import WORKER


def main(after_commit: Callable[[ReceivedMessage], None] | None = None) -> int:
    """Run the worker; exit 0 after a graceful stop. ``after_commit`` is for crash tests."""
    runtime = bootstrap.start_or_exit(WORKER)
    worker = build_worker(runtime, after_commit=after_commit)
    settings = runtime.settings
    return daemon.serve(runtime, worker, concurrency=settings.worker_concurrency,
                        poll_wait_seconds=settings.worker_poll_wait_seconds)


if __name__ == "__main__":
    sys.exit(main())
