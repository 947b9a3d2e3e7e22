"""The connection pool keeps sessions that survive an error and drops those that do not."""

import psycopg2
import pytest

from order_platform.adapters.db import Database
from order_platform.adapters.session import Session


def _backend_pid(db: Database) -> int:
    with db.session() as session:
        return _in_session(session)


def test_a_cancelled_statement_keeps_its_pooled_session(database):
    pid = _backend_pid(database)
    with pytest.raises(psycopg2.errors.QueryCanceled), database.session() as session:
        session.execute("SELECT pg_sleep(5)").all()
    assert _backend_pid(database) == pid


def test_a_session_killed_by_the_server_is_replaced_before_anyone_uses_it(database,
                                                                         superuser_conn):
    pid = _backend_pid(database)
    with superuser_conn.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))  # waits for the exit
        assert cur.fetchone()[0] is True
    # What a restart or failover does to every idle session: the next call does not fail.
    assert _backend_pid(database) != pid


def test_a_session_that_dies_under_a_call_fails_that_call_and_is_replaced(database,
                                                                         superuser_conn):
    with pytest.raises(psycopg2.OperationalError), database.session() as session:
        pid = _in_session(session)
        with superuser_conn.cursor() as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
        session.execute("SELECT 1").all()
    assert _backend_pid(database) != pid


def test_an_error_inside_a_transaction_rolls_it_back(database, superuser_conn):
    with superuser_conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS pool_probe (v int)")
        cur.execute("GRANT ALL ON pool_probe TO orders_app")
    with pytest.raises(ZeroDivisionError), database.session() as session:
        assert session.execute("INSERT INTO pool_probe VALUES (42)").rowcount == 1
        raise ZeroDivisionError
    with superuser_conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pool_probe WHERE v = 42")
        assert cur.fetchone()[0] == 0


def test_one_session_serves_single_statements_and_transactions_in_turn(database, superuser_conn):
    # A pool of one: the single statements' session is the transaction's next.
    with superuser_conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS pool_modes (v int)")
        cur.execute("GRANT ALL ON pool_modes TO orders_app")
        cur.execute("DELETE FROM pool_modes")
    with database.session(transaction=False) as session:
        assert session.execute("INSERT INTO pool_modes VALUES (1)").rowcount == 1  # commits
        pid = _in_session(session)
    with pytest.raises(ZeroDivisionError), database.session() as session:
        assert _in_session(session) == pid
        session.execute("INSERT INTO pool_modes VALUES (2)")
        fresh = session.execute(
            "SELECT transaction_timestamp() = statement_timestamp() AS fresh").one()
        assert fresh == {"fresh": False}  # one transaction since the pid: not autocommit
        raise ZeroDivisionError
    with database.session(transaction=False) as session:
        assert _in_session(session) == pid
        rows = session.execute("SELECT array_agg(v ORDER BY v) AS vs FROM pool_modes").one()
        assert rows == {"vs": [1]}  # the single statement's row committed, the transaction's not


def _in_session(session: Session) -> int:
    row = session.execute("SELECT pg_backend_pid() AS pid").one()
    assert row is not None
    return row["pid"]
