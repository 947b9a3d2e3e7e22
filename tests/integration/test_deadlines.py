"""Client-side deadlines by a watchdog: a call past its deadline is cut off and its session
dropped; calls in time leave nothing watched; no Python runs between a call's round trips.

(A frozen server, the case deadlines exist for, is in
``tests/integration/pipeline/test_bounded_waits.py``.)"""

from __future__ import annotations

import os
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
        ssl_root_cert=settings.db_ssl_root_cert, max_connections=1, deadline_seconds=1.0)
    yield db
    db.close()


def test_a_statement_past_the_deadline_is_cut_off_and_its_session_replaced(unlimited):
    pid = _backend_pid(unlimited)
    with pytest.raises(DeadlineExceeded), unlimited.session(transaction=False) as session:
        session.execute("SELECT pg_sleep(60)").all()  # it would answer, a minute later
    assert _backend_pid(unlimited) != pid
    assert deadlines._watchdog._calls == {}


def test_a_commit_past_the_deadline_is_cut_off(unlimited):
    with pytest.raises(DeadlineExceeded), unlimited.session() as session:
        # A deferred trigger runs at COMMIT: the statement answers, the COMMIT does not.
        session.execute("""
            CREATE TEMP TABLE slow_commit (v int);
            CREATE FUNCTION pg_temp.slowly() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN PERFORM pg_sleep(60); RETURN NULL; END $$;
            CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT ON slow_commit
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pg_temp.slowly();
            INSERT INTO slow_commit VALUES (1)""").all()
        session.commit()
    unlimited.ping()


def test_a_statement_sent_with_the_commit_past_the_deadline_is_cut_off(unlimited):
    with pytest.raises(DeadlineExceeded), unlimited.session() as session:
        session.execute("SELECT pg_sleep(60)")  # goes with the COMMIT
        session.commit()
    unlimited.ping()


def test_calls_in_time_from_many_threads_leave_nothing_watched(unlimited, settings):
    db = Database(
        host=settings.db_writer_endpoint, port=settings.db_port, dbname=settings.db_name,
        credentials=SecretsManagerCredentials(aws.client("secretsmanager", settings),
                                              settings.db_secret_arn),
        ssl_root_cert=settings.db_ssl_root_cert, max_connections=4, deadline_seconds=5.0)
    failures = []

    def work() -> None:
        try:
            for _ in range(50):
                with db.session() as session:
                    session.execute("SELECT 1").all()
                    session.commit()
                with db.session(transaction=False) as session:
                    session.execute("SELECT %s", (1,))
                    session.execute("SELECT %s", (2,)).all()
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    db.close()
    assert not any(t.is_alive() for t in threads)
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


def test_the_watchdog_thread_ends_when_idle_and_starts_again(monkeypatch):
    monkeypatch.setattr(deadlines, "IDLE_EXIT_SECONDS", 0.05)
    watchdog = deadlines._Watchdog()
    watchdog.end(watchdog.begin(_Closed(), 0.2))
    first = watchdog._thread
    first.join(10)
    assert not first.is_alive() and watchdog._thread is None
    token = watchdog.begin(_Closed(), 0.2)
    assert watchdog._thread is not None and watchdog._thread.is_alive()
    watchdog.end(token)


class _Socketed:
    """A connection on one end of a socket pair, with the identity it had when it connected."""

    def __init__(self, sock, identity) -> None:
        self._sock, self.socket_identity = sock, identity

    def fileno(self) -> int:
        return self._sock.fileno()


def test_the_watchdog_shuts_down_only_the_socket_the_connection_connected_with():
    import socket

    ours, peer = socket.socketpair()
    other, other_peer = socket.socketpair()
    with ours, peer, other, other_peer:
        # The descriptor now names another socket (libpq closed its own; the number was
        # reused): left alone.
        deadlines._sever(_Socketed(other, deadlines.socket_identity(ours.fileno())))
        other_peer.sendall(b"x")
        assert other.recv(1) == b"x"
        # Its own socket: shut down, the blocked side sees the end.
        deadlines._sever(_Socketed(ours, deadlines.socket_identity(ours.fileno())))
        assert peer.recv(1) == b""


def test_a_descriptor_that_is_no_socket_costs_the_watchdog_nothing():
    read_end, write_end = os.pipe()
    try:
        class _Piped:
            socket_identity = deadlines.socket_identity(read_end)

            def fileno(self) -> int:
                return read_end

        deadlines._sever(_Piped())  # logged, not raised
        os.write(write_end, b"x")
        assert os.read(read_end, 1) == b"x"
    finally:
        os.close(read_end)
        os.close(write_end)
