"""The connection pool: bounded, lazy, most-recent first, and never leaks a slot."""

from __future__ import annotations

import threading

import pytest

from order_platform.adapters.pool import ConnectionPool, PoolExhausted


class FakeConnection:
    """Stands in for a psycopg2 connection: it only needs to close."""

    opened = 0

    def __init__(self) -> None:
        FakeConnection.opened += 1
        self.number = FakeConnection.opened
        self.closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def pool():
    FakeConnection.opened = 0
    return ConnectionPool(FakeConnection, size=2, wait_seconds=0.05)


def test_connections_open_on_first_use_only(pool):
    assert FakeConnection.opened == 0
    conn = pool.acquire()
    assert FakeConnection.opened == 1
    pool.release(conn)
    assert pool.acquire() is conn


def test_the_most_recently_returned_connection_is_reused_first(pool):
    first, second = pool.acquire(), pool.acquire()
    pool.release(first)
    pool.release(second)
    assert pool.acquire() is second


def test_a_caller_waits_for_a_slot_and_is_refused_when_none_frees(pool):
    held = [pool.acquire(), pool.acquire()]
    with pytest.raises(PoolExhausted):
        pool.acquire()
    pool.release(held.pop())
    assert pool.acquire() is not None


def test_a_returned_connection_wakes_a_waiting_caller():
    pool = ConnectionPool(FakeConnection, size=1, wait_seconds=30)
    conn = pool.acquire()
    got = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire()))
    waiter.start()
    pool.release(conn)
    waiter.join(30)
    assert got == [conn]


def test_a_discarded_connection_is_closed_and_frees_its_slot(pool):
    broken = pool.acquire()
    pool.acquire()
    pool.release(broken, discard=True)
    assert broken.closed
    replacement = pool.acquire()
    assert replacement is not broken and not replacement.closed


def test_a_failed_connect_frees_its_slot():
    attempts = []

    def connect():
        attempts.append(1)
        if len(attempts) <= 3:
            raise OSError("database down")
        return FakeConnection()

    pool = ConnectionPool(connect, size=1, wait_seconds=0.05)
    for _ in range(3):
        with pytest.raises(OSError):
            pool.acquire()
    assert pool.acquire() is not None  # the slot was not lost to the failures


def test_close_closes_the_idle_connections(pool):
    conns = [pool.acquire(), pool.acquire()]
    for conn in conns:
        pool.release(conn)
    pool.close()
    assert all(c.closed for c in conns)


def test_an_idle_connection_that_died_is_replaced_not_handed_out():
    FakeConnection.opened = 0
    pool = ConnectionPool(FakeConnection, size=2, wait_seconds=0.05,
                          usable=lambda conn: conn.number != 1)
    first = pool.acquire()
    pool.release(first)
    replacement = pool.acquire()
    assert replacement is not first and first.closed
