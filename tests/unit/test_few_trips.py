"""A transaction in few round trips: what each trip carries, in order."""

from order_platform.adapters.few_trips import FewTrips


class RecordingCursor:
    """What a cursor was asked to run, one entry per round trip."""

    def __init__(self) -> None:
        self.trips: list[tuple[str, list | None]] = []

    def execute(self, sql, params=None) -> None:
        self.trips.append((sql, params))


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
