"""A transaction in few round trips: what each trip carries, in order."""

import psycopg2
import pytest

from order_platform.adapters.few_trips import FewTrips, RolledBack


class RecordingCursor:
    """What a cursor was asked to run, one entry per round trip; answers COMMIT (or what
    ``answer`` says) and fails the trips listed in ``failing``."""

    def __init__(self, answer: str = "COMMIT", failing: tuple[int, ...] = ()) -> None:
        self.trips: list[tuple[str, list | None]] = []
        self.statusmessage = answer
        self._failing = failing

    def execute(self, sql, params=None) -> None:
        self.trips.append((sql, params))
        if len(self.trips) in self._failing:
            raise psycopg2.errors.DivisionByZero("division by zero")


def test_begin_rides_with_the_first_statement_and_commit_with_the_deferred_writes():
    cur = RecordingCursor()
    tx = FewTrips(cur)
    tx.execute("SELECT status FROM orders WHERE id = %s", ("o1",))
    tx.defer("UPDATE orders SET status = %s WHERE id = %s", ("CONFIRMED", "o1"))
    tx.later.execute("INSERT INTO outbox (event_id) VALUES (%s)", ("e1",))
    tx.commit()
    assert cur.trips == [
        ("BEGIN;\nSELECT status FROM orders WHERE id = %s", ["o1"]),
        ("UPDATE orders SET status = %s WHERE id = %s;\n"
         "INSERT INTO outbox (event_id) VALUES (%s);\nCOMMIT", ["CONFIRMED", "o1", "e1"]),
    ]


def test_deferred_writes_go_before_the_next_read_in_their_order():
    cur = RecordingCursor()
    tx = FewTrips(cur)
    tx.defer("SAVEPOINT s")
    tx.defer("UPDATE a SET v = %s", (1,))
    tx.execute("UPDATE b SET v = %s", (2,))
    tx.execute("SELECT 1")
    assert cur.trips == [("BEGIN;\nSAVEPOINT s;\nUPDATE a SET v = %s;\nUPDATE b SET v = %s",
                          [1, 2]),
                         ("SELECT 1", None)]


def test_a_transaction_of_one_commit_is_one_trip_without_parameters():
    cur = RecordingCursor()
    FewTrips(cur).commit()
    # None, not []: psycopg2 would %-format the text with an empty sequence.
    assert cur.trips == [("BEGIN;\nCOMMIT", None)]


def test_after_a_failed_trip_nothing_more_is_sent():
    cur = RecordingCursor(failing=(1,))
    tx = FewTrips(cur)
    with pytest.raises(psycopg2.errors.DivisionByZero):
        tx.execute("SELECT 1 / 0")
    # A caller that swallowed the error cannot go on as if the transaction were whole.
    with pytest.raises(psycopg2.InterfaceError):
        tx.execute("SELECT 1")
    with pytest.raises(psycopg2.InterfaceError):
        tx.commit()
    assert len(cur.trips) == 1


def test_a_commit_answered_with_rollback_is_an_error():
    tx = FewTrips(RecordingCursor(answer="ROLLBACK"))
    with pytest.raises(RolledBack):
        tx.commit()


def test_named_parameters_are_refused():
    with pytest.raises(TypeError):
        FewTrips(RecordingCursor()).defer("SELECT %(a)s", {"a": 1})
