"""The deadline watchdog's one race, forced: a call registered while the watchdog's thread,
having found nothing to watch, is deciding to end. The call must still have a thread.

The interleaving is forced, not hoped for: the thread is held at the very moment it has seen
no call (inside its check), and let go only once the new call's ``begin`` has either returned
or is waiting for the watchdog's lock. Nothing here depends on timing.
"""

from __future__ import annotations

import threading

import pytest

from order_platform.adapters import deadlines


class _Closed:
    """A connection already closed: the watchdog has nothing to shut down."""

    def fileno(self) -> int:
        raise OSError("closed")


class _ObservedLock:
    """A lock that tells when a caller has to wait for it."""

    def __init__(self, contended: threading.Event) -> None:
        self._lock = threading.Lock()
        self._contended = contended

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._lock.acquire(blocking=False):
            return True
        self._contended.set()
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class _HeldAtTheCheck(dict):
    """The watchdog's calls, holding its thread when it finds them empty (once)."""

    def __init__(self, reached: threading.Event, go_on: threading.Event) -> None:
        super().__init__()
        self._reached, self._go_on, self._held = reached, go_on, False

    def __len__(self) -> int:
        size = super().__len__()
        if size == 0 and not self._held and threading.current_thread().name == "db-deadlines":
            self._held = True
            self._reached.set()
            assert self._go_on.wait(30), "the test never let the watchdog go on"
        return size


def test_a_call_registered_as_the_idle_watchdog_ends_is_still_watched(monkeypatch):
    monkeypatch.setattr(deadlines, "IDLE_EXIT_SECONDS", 0.0)  # the first idle look ends it
    reached, go_on = threading.Event(), threading.Event()
    watchdog = deadlines._Watchdog()
    watchdog._calls = _HeldAtTheCheck(reached, go_on)
    watchdog._lock = _ObservedLock(contended=go_on)

    watchdog.end(watchdog.begin(_Closed(), 0.04))  # starts the thread; nothing left to watch
    first = watchdog._thread
    assert first is not None
    assert reached.wait(30), "the watchdog never looked at its calls"
    # The thread is inside its check, having seen no call. A call begins now; its begin
    # either returns, or waits for the watchdog's lock (which lets the thread go on).
    token = watchdog.begin(_Closed(), 60)
    go_on.set()
    first.join(30)
    assert not first.is_alive()

    # While a call is registered, its thread cannot end: this one must be watching it.
    assert token in watchdog._calls
    assert watchdog._thread is not None and watchdog._thread.is_alive(), \
        "a registered call was left without a watchdog thread"
    assert watchdog.end(token) is False


@pytest.mark.parametrize("calls", [1, 5])
def test_every_call_begun_is_ended_by_its_caller_or_the_watchdog(calls):
    watchdog = deadlines._Watchdog()
    tokens = [watchdog.begin(_Closed(), 60) for _ in range(calls)]
    assert [watchdog.end(t) for t in tokens] == [False] * calls
    assert watchdog._calls == {}
