"""A fixed number of handler threads shared by every queue of a worker process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


class HandlerPool:
    """A fixed number of handler slots shared by every queue of a process.

    Consumers never hold slots while they long-poll (one queue would starve the
    other); they wait for a free slot, receive, then queue each message for a slot.
    """

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._busy = 0
        self._cond = threading.Condition()
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="handler")

    def wait_for_capacity(self, stop: threading.Event, wait: float = 0.5) -> bool:
        """Block until a slot is free; False once ``stop`` is set."""
        with self._cond:
            while self._busy >= self.concurrency and not stop.is_set():
                self._cond.wait(wait)
            return not stop.is_set()

    def submit(self, work: Callable[[], None], stop: threading.Event | None = None,
               wait: float = 0.5) -> bool:
        """Run ``work`` as soon as a slot is free (blocks until then); False if stopped first."""
        with self._cond:
            while self._busy >= self.concurrency:
                if stop is not None and stop.is_set():
                    return False
                self._cond.wait(wait)
            if stop is not None and stop.is_set():
                return False
            self._busy += 1

        def run() -> None:
            try:
                work()
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

        self._executor.submit(run)
        return True

    def drain(self, timeout: float) -> bool:
        """Wait until nothing is in flight; True when drained within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        self._executor.shutdown(wait=True)
        return True
