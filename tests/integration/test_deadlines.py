"""Client-side deadlines by a watchdog: a call past its deadline is cut off and its session
dropped; calls in time leave nothing watched; no Python runs between a call's round trips.

(A frozen server, the case deadlines exist for, is in
``tests/integration/pipeline/test_bounded_waits.py``.)"""

from __future__ import annotations

import threading
import time

import psycopg2
import psycopg2.extensions
import pytest

from order_platform.adapters import aws, deadlines
from order_platform.adapters.credentials import SecretsManagerCredentials
from order_platform.adapters.db import Database
from order_platform.adapters.deadlines import DeadlineExceeded
from tests.integration.test_db_pool import _backend_pid


@pytest.fixture
def unlimited(settings):
    """A pool of one connection with a 1 s deadline and no server-side statement timeout:
    only the watchdog can end a long statement."""
    db = Database(
        host=settings.db_writer_endpoint, port=settings.db_port, dbname=settings.db_name,
        credentials=SecretsManagerCredentials(aws.client("secretsmanager", settings),
                                              settings.db_secret_arn),
        max_connections=1, deadline_seconds=1.0)
    yield db
    db.close()


def test_a_statement_past_the_deadline_is_cut_off_and_its_session_replaced(unlimited):
    pid = _backend_pid(unlimited)
    with pytest.raises(DeadlineExceeded), unlimited.statement() as cur:
        cur.execute("SELECT pg_sleep(60)")  # it would answer, a minute later
    assert _backend_pid(unlimited) != pid
    assert deadlines._watchdog._calls == {}


def test_a_commit_and_a_transaction_past_the_deadline_are_cut_off(unlimited):
    with pytest.raises(DeadlineExceeded), unlimited.transaction() as cur:
        cur.execute("SELECT 1")
        cur.execute("SELECT pg_sleep(60)")
    with pytest.raises(DeadlineExceeded), unlimited.in_few_trips() as tx:
        tx.defer("SELECT pg_sleep(60)")  # goes with the COMMIT
    unlimited.ping()


def test_calls_in_time_from_many_threads_leave_nothing_watched(unlimited, settings):
    db = Database(
        host=settings.db_writer_endpoint, port=settings.db_port, dbname=settings.db_name,
        credentials=SecretsManagerCredentials(aws.client("secretsmanager", settings),
                                              settings.db_secret_arn),
        max_connections=4, deadline_seconds=1.0)
    failures = []

    def work() -> None:
        try:
            for _ in range(50):
                with db.transaction() as cur:
                    cur.execute("SELECT 1")
                with db.statement() as cur:
                    cur.executemany("SELECT %s", [(1,), (2,)])
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    db.close()
    assert failures == []
    assert deadlines._watchdog._calls == {}


def test_no_python_runs_between_a_calls_round_trips(unlimited):
    unlimited.ping()
    # A wait callback would put every connection in green mode (poll and select from Python).
    assert psycopg2.extensions.get_wait_callback() is None


class _Closed:
    """A connection already closed: the watchdog has nothing to shut down."""

    def fileno(self) -> int:
        raise psycopg2.InterfaceError("connection already closed")


def test_the_call_or_the_watchdog_ends_a_watch_never_both():
    watchdog = deadlines._Watchdog()
    assert watchdog.end(watchdog.begin(_Closed(), 60)) is False  # ended in time
    token = watchdog.begin(_Closed(), 0.05)
    deadline = time.monotonic() + 10
    while token in watchdog._calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert watchdog.end(token) is True  # the watchdog took it
    assert watchdog._calls == {}


def test_connecting_to_nothing_that_answers_is_bounded_and_reported_as_a_deadline():
    import socket

    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        with pytest.raises(DeadlineExceeded):
            deadlines.connect(1.0, host="127.0.0.1", port=silent.getsockname()[1],
                              dbname="x", user="x", password="x")
