"""``Database.in_few_trips()`` on a real PostgreSQL: one transaction, however few its trips."""

import contextlib

import psycopg2
import pytest

from order_platform.adapters.db import Database


@pytest.fixture
def probe(superuser_conn):
    with superuser_conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS few_trips_probe (v int)")
        cur.execute("GRANT ALL ON few_trips_probe TO orders_app")
        cur.execute("TRUNCATE few_trips_probe")

    def count(value: int) -> int:
        with superuser_conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM few_trips_probe WHERE v = %s", (value,))
            return cur.fetchone()[0]

    return count


def _session(db: Database) -> tuple[int, str]:
    """The pooled session's backend pid, and the server's transaction state outside a block."""
    with db.in_few_trips() as tx:
        pid = tx.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"]
    with db.connection() as conn:
        return pid, conn.info.transaction_status


def test_deferred_writes_are_seen_inside_and_committed_at_the_end_together(database, probe):
    with database.in_few_trips() as tx:
        tx.defer("INSERT INTO few_trips_probe VALUES (%s)", (1,))
        tx.defer("INSERT INTO few_trips_probe VALUES (%s)", (1,))
        seen = tx.execute("SELECT count(*) AS n FROM few_trips_probe WHERE v = 1").fetchone()
        assert seen["n"] == 2
        tx.defer("INSERT INTO few_trips_probe VALUES (%s)", (1,))
        assert probe(1) == 0  # not before the COMMIT: one transaction
    assert probe(1) == 3
    assert _session(database)[1] == psycopg2.extensions.TRANSACTION_STATUS_IDLE


def test_an_exception_in_the_block_rolls_back_and_keeps_the_session(database, probe):
    pid, _ = _session(database)
    with pytest.raises(ZeroDivisionError), database.in_few_trips() as tx:
        tx.execute("INSERT INTO few_trips_probe VALUES (%s)", (2,))
        tx.defer("INSERT INTO few_trips_probe VALUES (%s)", (2,))
        raise ZeroDivisionError
    assert _session(database) == (pid, psycopg2.extensions.TRANSACTION_STATUS_IDLE)
    assert probe(2) == 0  # after the session's next transaction, which must not commit it


def test_a_failing_deferred_statement_fails_the_commit_and_nothing_commits(database, probe):
    pid, _ = _session(database)
    with pytest.raises(psycopg2.errors.DivisionByZero), database.in_few_trips() as tx:
        tx.execute("INSERT INTO few_trips_probe VALUES (%s)", (3,))
        tx.defer("INSERT INTO few_trips_probe VALUES (%s)", (3,))
        tx.defer("SELECT 1 / 0")
        tx.defer("INSERT INTO few_trips_probe VALUES (%s)", (3,))
    assert probe(3) == 0
    assert _session(database) == (pid, psycopg2.extensions.TRANSACTION_STATUS_IDLE)


def test_a_cancelled_statement_rolls_back_and_keeps_the_session(database, probe):
    pid, _ = _session(database)
    with pytest.raises(psycopg2.errors.QueryCanceled), database.in_few_trips() as tx:
        tx.defer("INSERT INTO few_trips_probe VALUES (%s)", (4,))
        tx.execute("SELECT pg_sleep(5)")  # past the 200 ms statement_timeout
    assert probe(4) == 0
    assert _session(database) == (pid, psycopg2.extensions.TRANSACTION_STATUS_IDLE)


def test_a_session_killed_mid_transaction_fails_the_block_and_is_replaced(database, probe,
                                                                         superuser_conn):
    with pytest.raises(psycopg2.OperationalError), database.in_few_trips() as tx:
        pid = tx.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"]
        tx.defer("INSERT INTO few_trips_probe VALUES (%s)", (5,))
        with superuser_conn.cursor() as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
    assert probe(5) == 0
    assert _session(database)[0] != pid


def test_a_commit_after_a_swallowed_error_commits_nothing(database, probe):
    with pytest.raises(psycopg2.InterfaceError), database.in_few_trips() as tx:
        tx.execute("INSERT INTO few_trips_probe VALUES (%s)", (6,))
        with contextlib.suppress(psycopg2.errors.DivisionByZero):  # a caller that carries on
            tx.execute("SELECT 1 / 0")
        tx.defer("INSERT INTO few_trips_probe VALUES (%s)", (6,))
    assert _session(database)[1] == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    assert probe(6) == 0
