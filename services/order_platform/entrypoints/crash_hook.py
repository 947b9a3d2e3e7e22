"""TEST HOOK ONLY: kill the process at a named point to test crash windows.

When ``ORDER_PLATFORM_TEST_CRASH_AT`` names a point (``worker.after_commit`` or
``relay.after_publish``), the process calls ``os._exit`` there: no cleanup, no
flush, no rollback, no delete, like a SIGKILL at that line. Unset in every real
deployment; the crash-window tests set it on the process they start.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

CRASH_ENV = "ORDER_PLATFORM_TEST_CRASH_AT"
CRASH_EXIT_CODE = 86
POINTS = ("worker.after_commit", "relay.after_publish")

log = logging.getLogger(__name__)


def crash_hook(point: str, environ=os.environ) -> Callable[..., None]:
    """A callable that exits the process hard if ``point`` is the configured crash point."""
    if point not in POINTS:
        raise ValueError(f"unknown crash point {point!r}")
    if environ.get(CRASH_ENV) != point:
        return lambda *args: None

    def crash(*args) -> None:
        log.critical("test hook: crashing", extra={"crash_point": point})
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(CRASH_EXIT_CODE)

    return crash
