"""Client-side deadlines on every database call, so a frozen server cannot hold a thread.

``statement_timeout`` and ``lock_timeout`` are the server's to enforce, and a server that stops
answering (every PostgreSQL process stopped, a hung storage volume, a path that drops packets)
enforces nothing. TCP keepalives do not help against a frozen server either: its host's kernel
still acknowledges them. psycopg2 lets one wait callback drive every blocking call (connect,
execute, commit, fetch); ours waits at most the connection's ``deadline_seconds`` and then
gives the connection up, which the pool discards.

Connections of other classes (migrations, tests) wait as long as they always did.
"""

from __future__ import annotations

import select
import threading
import time

import psycopg2
import psycopg2.extensions

_installed = threading.Lock()


class DeadlineExceeded(psycopg2.OperationalError):
    """The server did not answer within the connection's deadline; the connection is lost."""


class DeadlineConnection(psycopg2.extensions.connection):
    """A connection whose every blocking call ends after ``deadline_seconds``."""

    deadline_seconds: float | None = None


def connection_class(deadline_seconds: float) -> type[DeadlineConnection]:
    """A connection class for one pool's deadline (pass it as ``connection_factory``)."""
    install()
    return type("PoolConnection", (DeadlineConnection,), {"deadline_seconds": deadline_seconds})


def install() -> None:
    """Make ``wait`` psycopg2's wait callback, once per process."""
    with _installed:
        if psycopg2.extensions.get_wait_callback() is not wait:
            psycopg2.extensions.set_wait_callback(wait)


def wait(conn) -> None:
    """psycopg2's wait_select with a deadline for the connections that have one."""
    limit = getattr(conn, "deadline_seconds", None)
    end = None if limit is None else time.monotonic() + limit
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        remaining = None if end is None else end - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise DeadlineExceeded(f"the database did not answer within {limit:g}s")
        if state == psycopg2.extensions.POLL_READ:
            select.select([conn.fileno()], [], [], remaining)
        elif state == psycopg2.extensions.POLL_WRITE:
            select.select([], [conn.fileno()], [], remaining)
        else:
            raise psycopg2.OperationalError(f"bad state from poll: {state}")
