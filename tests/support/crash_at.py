"""Run the worker or the relay with a hook that kills it at a named point of its work.

    python -m tests.support.crash_at worker.after_commit
    python -m tests.support.crash_at relay.after_publish

The hook calls ``os._exit`` there: no cleanup, no flush, no rollback, no delete, like a
SIGKILL at that line. It is injected through the constructors' callbacks, so the shipped
package holds no test hook at all.
"""

from __future__ import annotations

import logging
import os
import sys

CRASH_EXIT_CODE = 86
POINTS = ("worker.after_commit", "relay.after_publish")


def crash(*args) -> None:
    """Exit at once, like a SIGKILL (the exit code tells the test it was the hook)."""
    logging.getLogger(__name__).critical("test hook: crashing")
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(CRASH_EXIT_CODE)


def main(point: str) -> int:
    """Run the process named by ``point`` with ``crash`` injected there."""
    if point == "worker.after_commit":
        from order_platform.entrypoints.worker.__main__ import main as worker

        return worker(after_commit=crash)
    if point == "relay.after_publish":
        from order_platform.entrypoints.relay import main as relay

        return relay(after_publish=crash)
    raise SystemExit(f"unknown crash point {point!r}; one of {POINTS}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
