"""A bounded pool of connections of our own: a semaphore for the bound, a LIFO queue of idle ones.

psycopg2's ThreadedConnectionPool raises instead of waiting when it is exhausted and has no
public hook for how to connect (we re-fetch rotated credentials there), so it was bent with
its private attributes. Forty lines of our own need no such thing.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import psycopg2

Conn = TypeVar("Conn")


class PoolExhausted(psycopg2.OperationalError):
    """Every connection stayed busy for the whole wait (the APIs answer 503)."""


class PoolWatch(Protocol):
    """Told how the pool is used (metrics), under the pool's lock: must be quick."""

    def lent(self, waited_seconds: float, out: int) -> None:
        """A connection was lent after ``waited_seconds``; ``out`` are lent now."""

    def returned(self, out: int) -> None:
        """A connection came back (or was discarded); ``out`` are lent now."""


class _Unwatched:
    def lent(self, waited_seconds: float, out: int) -> None:
        pass

    def returned(self, out: int) -> None:
        pass


class ConnectionPool(Generic[Conn]):
    """At most ``size`` connections, opened on first use; callers wait up to ``wait_seconds``.

    Idle connections are reused most-recently-returned first, so a quiet process keeps a few
    warm sessions and lets the others idle out on the server. One lock, taken once per
    acquire and per release: this runs on every request.
    """

    def __init__(self, connect: Callable[[], Conn], size: int, wait_seconds: float = 30,
                 usable: Callable[[Conn], bool] = lambda conn: True,
                 watch: PoolWatch | None = None) -> None:
        self._connect = connect
        self._watch = watch or _Unwatched()
        self._usable = usable
        self._idle: list[Conn] = []
        self._out = 0
        # One lock; the condition on it is only for callers that must wait for a connection,
        # and is notified only when one does (Condition's methods are Python, the lock's C).
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        self._waiting = 0
        self._wait = wait_seconds
        self.size = size

    def acquire(self) -> Conn:
        """An idle connection, or a new one while fewer than ``size`` are out."""
        asked = time.perf_counter()
        with self._lock:
            if self._out >= self.size:
                self._waiting += 1
                try:
                    freed = self._freed.wait_for(lambda: self._out < self.size, self._wait)
                finally:
                    self._waiting -= 1
                if not freed:
                    raise PoolExhausted(f"all {self.size} connections busy for {self._wait}s")
            self._out += 1
            self._watch.lent(time.perf_counter() - asked, self._out)
            idle = self._idle
            while idle:
                conn = idle.pop()
                if self._usable(conn):
                    return conn
                _close_quietly(conn)  # died while idle: take the next, or a new one
        try:
            return self._connect()
        except BaseException:
            self._give_back(None)
            raise

    def release(self, conn: Conn, *, discard: bool = False) -> None:
        """Give ``conn`` back; ``discard`` closes it instead (a broken session)."""
        if discard:
            _close_quietly(conn)
        self._give_back(None if discard else conn)

    def _give_back(self, conn: Conn | None) -> None:
        with self._lock:
            self._out -= 1
            self._watch.returned(self._out)
            if conn is not None:
                self._idle.append(conn)
            if self._waiting:
                self._freed.notify()

    def close(self) -> None:
        """Close the idle connections (those still out are closed when discarded)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            _close_quietly(conn)


def _close_quietly(conn: Any) -> None:
    with contextlib.suppress(Exception):  # already broken; closing is best effort
        conn.close()
