"""``Database.session()`` on a real PostgreSQL: one transaction, however few its trips, and a
session left as it was found whatever the block did."""

import contextlib

import psycopg2
import pytest

from order_platform.adapters.db import Database


@pytest.fixture
def probe(superuser_conn):
    with superuser_conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS session_probe (v int)")
        cur.execute("GRANT ALL ON session_probe TO orders_app")
        cur.execute("TRUNCATE session_probe")

    def count(value: int) -> int:
        with superuser_conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM session_probe WHERE v = %s", (value,))
            return cur.fetchone()[0]

    return count


def _session(db: Database) -> tuple[int, str]:
    """The pooled session's backend pid, and the server's transaction state outside a block."""
    with db.session() as session:
        pid = session.execute("SELECT pg_backend_pid() AS pid").one()["pid"]
        session.commit()
        return pid, session.connection.info.transaction_status


def test_queued_writes_are_seen_inside_and_committed_at_the_end_together(database, probe):
    with database.session() as session:
        session.execute("INSERT INTO session_probe VALUES (%s)", (1,))
        session.execute("INSERT INTO session_probe VALUES (%s)", (1,))
        seen = session.execute("SELECT count(*) AS n FROM session_probe WHERE v = 1").one()
        assert seen["n"] == 2
        session.execute("INSERT INTO session_probe VALUES (%s)", (1,))
        assert probe(1) == 0  # not before the COMMIT: one transaction
        session.commit()
    assert probe(1) == 3
    assert _session(database)[1] == psycopg2.extensions.TRANSACTION_STATUS_IDLE


def test_a_block_left_without_a_commit_rolls_back_and_keeps_the_session(database, probe):
    pid, _ = _session(database)
    with database.session() as session:
        assert session.execute("INSERT INTO session_probe VALUES (%s)", (7,)).rowcount == 1
    with pytest.raises(ZeroDivisionError), database.session() as session:
        assert session.execute("INSERT INTO session_probe VALUES (%s)", (2,)).rowcount == 1
        session.execute("INSERT INTO session_probe VALUES (%s)", (2,))
        raise ZeroDivisionError
    assert _session(database) == (pid, psycopg2.extensions.TRANSACTION_STATUS_IDLE)
    assert probe(2) == probe(7) == 0  # after the session's next transaction, which committed


def test_a_failing_queued_statement_fails_the_commit_and_nothing_commits(database, probe):
    pid, _ = _session(database)
    with pytest.raises(psycopg2.errors.DivisionByZero), database.session() as session:
        assert session.execute("INSERT INTO session_probe VALUES (%s)", (3,)).rowcount == 1
        session.execute("INSERT INTO session_probe VALUES (%s)", (3,))
        session.execute("SELECT 1 / 0")
        session.execute("INSERT INTO session_probe VALUES (%s)", (3,))
        session.commit()
    assert probe(3) == 0
    assert _session(database) == (pid, psycopg2.extensions.TRANSACTION_STATUS_IDLE)


def test_a_cancelled_statement_rolls_back_and_keeps_the_session(database, probe):
    pid, _ = _session(database)
    with pytest.raises(psycopg2.errors.QueryCanceled), database.session() as session:
        session.execute("INSERT INTO session_probe VALUES (%s)", (4,))
        session.execute("SELECT pg_sleep(5)").all()  # past the 200 ms statement_timeout
    assert probe(4) == 0
    assert _session(database) == (pid, psycopg2.extensions.TRANSACTION_STATUS_IDLE)


def test_a_session_killed_mid_transaction_fails_the_block_and_is_replaced(database, probe,
                                                                         superuser_conn):
    with pytest.raises(psycopg2.OperationalError), database.session() as session:
        pid = session.execute("SELECT pg_backend_pid() AS pid").one()["pid"]
        session.execute("INSERT INTO session_probe VALUES (%s)", (5,))
        with superuser_conn.cursor() as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
        session.commit()
    assert probe(5) == 0
    assert _session(database)[0] != pid


def test_a_commit_after_a_swallowed_error_commits_nothing(database, probe):
    with pytest.raises(psycopg2.InterfaceError), database.session() as session:
        assert session.execute("INSERT INTO session_probe VALUES (%s)", (6,)).rowcount == 1
        with contextlib.suppress(psycopg2.errors.DivisionByZero):  # a caller that carries on
            session.execute("SELECT 1 / 0").all()
        session.execute("INSERT INTO session_probe VALUES (%s)", (6,))
        session.commit()
    assert _session(database)[1] == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    assert probe(6) == 0


def test_statements_without_a_transaction_each_commit_alone(database, probe):
    with pytest.raises(psycopg2.errors.DivisionByZero), \
            database.session(transaction=False) as session:
        assert session.execute("INSERT INTO session_probe VALUES (%s)", (8,)).rowcount == 1
        session.execute("SELECT 1 / 0").all()
    assert probe(8) == 1
