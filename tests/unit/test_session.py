"""The one way to run SQL (``Session.execute``): what each round trip carries, in order."""

from __future__ import annotations

from collections import namedtuple

import psycopg2
import psycopg2.extensions
import pytest

from order_platform.adapters.session import ResultLost, RolledBack, Session

Column = namedtuple("Column", "name")


class RecordingCursor:
    """What a cursor was asked to run, one entry per round trip. A trip ending in a SELECT
    answers one row; COMMIT is answered as ``answer`` says; the trips in ``failing`` fail."""

    def __init__(self, connection: Connection, answer: str, failing: tuple[int, ...]) -> None:
        self.connection = connection
        self.trips: list[tuple[str, list | None]] = []
        self._answer, self._failing = answer, failing
        self.description = None
        self.statusmessage = ""
        self.rowcount = -1

    def execute(self, sql, params=None) -> None:
        self.trips.append((sql, params))
        if len(self.trips) in self._failing:
            raise psycopg2.errors.DivisionByZero("division by zero")
        last = sql.split(";\n")[-1]
        self.description = [Column("v")] if last.startswith("SELECT") else None
        self.statusmessage = self._answer if last == "COMMIT" else last.split()[0]
        self.rowcount = 1
        if sql.startswith("BEGIN"):
            self.connection.status = psycopg2.extensions.TRANSACTION_STATUS_INTRANS
        if last in ("COMMIT", "ROLLBACK"):
            self.connection.status = psycopg2.extensions.TRANSACTION_STATUS_IDLE

    def fetchall(self) -> list[tuple]:
        return [("row",)]

    def close(self) -> None:
        pass

    def __enter__(self) -> RecordingCursor:
        return self

    def __exit__(self, *exc) -> None:
        pass


class Connection:
    """Just what a session and the deadline watchdog ask of a connection."""

    deadline_seconds = 60.0
    closed = 0

    def __init__(self, answer: str = "COMMIT", failing: tuple[int, ...] = ()) -> None:
        self.status = psycopg2.extensions.TRANSACTION_STATUS_IDLE
        self.recorded = RecordingCursor(self, answer, failing)

    @property
    def info(self):
        return self

    @property
    def transaction_status(self) -> int:
        return self.status

    def cursor(self) -> RecordingCursor:
        return self.recorded


def _session(transaction: bool = True, **conn) -> tuple[Session, list]:
    connection = Connection(**conn)
    return Session(connection, transaction=transaction), connection.recorded.trips


def test_begin_rides_with_the_first_read_and_commit_with_the_writes_after_it():
    session, trips = _session()
    assert session.execute("SELECT status FROM orders WHERE id = %s", ("o1",)).one() == {
        "v": "row"}
    session.execute("UPDATE orders SET status = %s WHERE id = %s", ("CONFIRMED", "o1"))
    session.execute("INSERT INTO outbox (event_id) VALUES (%s)", ("e1",))
    session.commit()
    assert trips == [
        ("BEGIN;\nSELECT status FROM orders WHERE id = %s", ["o1"]),
        ("UPDATE orders SET status = %s WHERE id = %s;\n"
         "INSERT INTO outbox (event_id) VALUES (%s);\nCOMMIT", ["CONFIRMED", "o1", "e1"]),
    ]


def test_queued_writes_go_before_the_next_read_in_their_order():
    session, trips = _session()
    session.execute("SAVEPOINT s")
    session.execute("UPDATE a SET v = %s", (1,))
    assert session.execute("UPDATE b SET v = %s", (2,)).rowcount == 1
    session.execute("SELECT 1").all()
    assert trips == [("BEGIN;\nSAVEPOINT s;\nUPDATE a SET v = %s;\nUPDATE b SET v = %s",
                      [1, 2]),
                     ("SELECT 1", None)]


def test_a_unit_of_work_that_ran_nothing_costs_no_trip_and_a_bare_commit_no_parameters():
    session, trips = _session()
    session.commit()
    assert trips == []
    session.execute("INSERT INTO t VALUES (1)")
    session.commit()
    # None, not []: psycopg2 would %-format the text with an empty sequence.
    assert trips == [("BEGIN;\nINSERT INTO t VALUES (1);\nCOMMIT", None)]


def test_after_a_failed_trip_nothing_more_is_sent():
    session, trips = _session(failing=(1,))
    with pytest.raises(psycopg2.errors.DivisionByZero):
        session.execute("SELECT 1 / 0").one()
    # A caller that swallowed the error cannot go on as if the transaction were whole.
    with pytest.raises(psycopg2.InterfaceError):
        session.execute("SELECT 1").one()
    with pytest.raises(psycopg2.InterfaceError):
        session.commit()
    assert len(trips) == 1


def test_a_commit_answered_with_rollback_is_an_error():
    session, _ = _session(answer="ROLLBACK")
    session.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(RolledBack):
        session.commit()


def test_named_parameters_are_refused():
    session, _ = _session()
    with pytest.raises(TypeError):
        session.execute("SELECT %(a)s", {"a": 1})


def test_only_the_last_statement_of_a_trip_keeps_its_result():
    session, _ = _session()
    first = session.execute("SELECT 1")
    second = session.execute("SELECT 2")
    assert second.all() == [{"v": "row"}]
    with pytest.raises(ResultLost):
        first.all()


def test_without_a_transaction_each_read_goes_alone():
    session, trips = _session(transaction=False)
    session.execute("SELECT 1").one()
    session.execute("SELECT 2").one()
    assert trips == [("SELECT 1", None), ("SELECT 2", None)]


def test_rolling_back_sends_rollback_only_when_a_transaction_is_open():
    session, trips = _session()
    assert session.rollback() is True and trips == []
    session.execute("SELECT 1").one()
    assert session.rollback() is True
    assert trips[-1] == ("ROLLBACK", None)
    session.execute("SELECT 2").one()
    assert trips[-1] == ("BEGIN;\nSELECT 2", None), "the next transaction begins again"
