"""Client-side deadlines on every database call, so a frozen server cannot hold a thread.

``statement_timeout`` and ``lock_timeout`` are the server's to enforce, and a server that stops
answering (every PostgreSQL process stopped, a hung storage volume, a path that drops packets)
enforces nothing. TCP keepalives do not help against a frozen server either: its host's kernel
still acknowledges them.

How: a watchdog, not psycopg2's wait callback. A wait callback drives every call from Python
(poll, select, poll), which lets go of the GIL four times a round trip instead of once, and
under threads each release can hand the GIL to another thread and put this one to sleep: it
cost the worker about a tenth of its CPU. Instead, each round trip of a pool's connection
(``session.Session`` sends them all through ``guarded``) is registered with one watchdog
thread per process, for the length of the call. A call still running at its deadline has its
socket shut down, which ends libpq's wait at once; the call raises ``DeadlineExceeded`` and
the pool discards the connection. The watchdog looks every quarter of the shortest deadline
(at most every second), so a call ends within a quarter deadline after its own. Connecting
is bounded by libpq's ``connect_timeout``, which covers the whole handshake.

Connections opened otherwise (migrations, tests) wait as long as they always did.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg2
import psycopg2.extensions

T = TypeVar("T")

log = logging.getLogger(__name__)

MAX_TICK_SECONDS = 1.0
"""The watchdog's longest sleep (a quarter of the shortest deadline, if shorter)."""
MIN_TICK_SECONDS = 0.01
IDLE_EXIT_SECONDS = 10.0
"""The watchdog's thread ends after this long with no call in progress."""


class DeadlineExceeded(psycopg2.OperationalError):
    """The server did not answer within the connection's deadline; the connection is lost."""


class BoundedConnection(psycopg2.extensions.connection):
    """A connection that knows its deadline and the socket it connected with (``guarded``)."""

    deadline_seconds: float = 10.0
    socket_identity: tuple[int, int] | None = None
    prepared_names: set[str] | None = None
    """The statements this connection prepared (``prepared``), once it has any."""


class _Watchdog:
    """Calls in progress by token, and one daemon thread that ends those past their deadline.

    A call and the watchdog both ``pop`` the call's token; exactly one of them gets it. When
    the watchdog does, it shuts the socket down under its lock, and the call waits for that
    lock before it reports the deadline, so the socket is never touched after the call's
    owner may have closed it (and its descriptor been reused). The thread ends after
    ``IDLE_EXIT_SECONDS`` with nothing to watch (an idle process spends nothing on it) and
    starts again with the next call.

    One lock holds the thread's life and the registrations together: a call is registered
    and the thread checked under it, and the thread decides to end (nothing registered) and
    says so (``_thread = None``) under it too. So a call registered while the thread ends
    finds it gone and starts another; there is no moment when a registered call has none.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._calls: dict[int, tuple[float, BoundedConnection]] = {}
        self._tokens = itertools.count()
        self._lock = threading.Lock()
        self._tick = MAX_TICK_SECONDS
        self._thread: threading.Thread | None = None
        """The watching thread, from its start until it decides to end (under the lock)."""

    def begin(self, conn: BoundedConnection, seconds: float) -> int:
        """Watch a call on ``conn`` from now until ``end``; its token."""
        with self._lock:
            token = next(self._tokens)
            self._calls[token] = (time.monotonic() + seconds, conn)
            self._tick = min(self._tick, max(seconds / 4, MIN_TICK_SECONDS))
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="db-deadlines", daemon=True)
                try:
                    thread.start()
                except BaseException:
                    del self._calls[token]  # the call will not run
                    raise
                self._thread = thread
        return token

    def end(self, token: int) -> bool:
        """Stop watching; True when the watchdog ended the call (its deadline passed)."""
        if self._calls.pop(token, None) is not None:
            return False
        with self._lock:  # the watchdog is shutting the socket down, or has
            return True

    def _run(self) -> None:
        idle = 0.0
        while True:
            time.sleep(self._tick)
            with self._lock:
                now = time.monotonic()
                for token in [t for t, (due, _) in list(self._calls.items()) if due <= now]:
                    call = self._calls.pop(token, None)
                    if call is not None:
                        _sever(call[1])
                idle = 0.0 if self._calls else idle + self._tick
                if idle >= IDLE_EXIT_SECONDS:
                    self._thread, self._tick = None, MAX_TICK_SECONDS
                    return

    def forked(self) -> None:
        """In a forked child: the parent's thread and calls are not ours."""
        self._reset()


def socket_identity(fd: int) -> tuple[int, int]:
    """What tells one socket from another that later gets the same descriptor number."""
    stat = os.fstat(fd)
    return stat.st_dev, stat.st_ino


def _sever(conn: BoundedConnection) -> None:
    """Shut down ``conn``'s socket, through a duplicate of its descriptor: the blocked call
    sees the connection end, and the descriptor stays libpq's to close. Only if the
    descriptor is still the connection's own socket: libpq may have closed it an instant
    before (the server hung up at the deadline), and the number been given to another."""
    try:
        duplicate = os.dup(conn.fileno())
    except (OSError, psycopg2.Error):
        return  # already closed
    try:
        ours = socket_identity(duplicate) == getattr(conn, "socket_identity", None)
        sock = socket.socket(fileno=duplicate) if ours else None  # owns the duplicate
    except OSError:
        sock = None
        log.exception("cannot cut off a call past its deadline")
    if sock is None:
        os.close(duplicate)
        return
    with sock, contextlib.suppress(OSError):  # already shut down by the peer
        sock.shutdown(socket.SHUT_RDWR)


_watchdog = _Watchdog()
os.register_at_fork(after_in_child=_watchdog.forked)


def guarded(conn: BoundedConnection, call: Callable[..., T], *args: Any) -> T:
    """Run ``call(*args)``, a blocking call on ``conn``, within the connection's deadline;
    ``DeadlineExceeded`` (the connection lost) when the watchdog had to end it."""
    limit = conn.deadline_seconds
    token = _watchdog.begin(conn, limit)
    try:
        result = call(*args)
    except BaseException as exc:
        if _watchdog.end(token):
            raise DeadlineExceeded(
                f"the database did not answer within {limit:g}s") from exc
        raise
    if _watchdog.end(token):
        # It answered as the watchdog cut it off: the session is gone all the same.
        raise DeadlineExceeded(f"the database did not answer within {limit:g}s")
    return result


def connect(deadline_seconds: float, **dsn: Any) -> BoundedConnection:
    """A ``BoundedConnection`` with ``deadline_seconds``, the handshake bounded by libpq's
    ``connect_timeout`` (whole seconds, at least 2)."""
    try:
        conn: BoundedConnection = psycopg2.connect(
            connection_factory=BoundedConnection,
            connect_timeout=max(2, math.ceil(deadline_seconds)), **dsn)
    except psycopg2.OperationalError as exc:
        if "timeout expired" in str(exc):
            raise DeadlineExceeded(
                f"the database did not answer within {deadline_seconds:g}s") from exc
        raise
    conn.deadline_seconds = deadline_seconds
    conn.socket_identity = socket_identity(conn.fileno())
    return conn
