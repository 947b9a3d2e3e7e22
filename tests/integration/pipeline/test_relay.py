"""The outbox relay against real PostgreSQL and the moto server's EventBridge and SQS."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import uuid
from collections import Counter
from dataclasses import replace

import psycopg2
import pytest
from botocore.exceptions import EndpointConnectionError
from tenacity import RetryCallState

from order_platform import topology
from order_platform.adapters import aws
from order_platform.adapters.db import DATABASE_DOWN
from order_platform.adapters.event_bus import (
    ENTRY_TOO_LARGE,
    MAX_REQUEST_BYTES,
    BusUnavailable,
    entry_size,
)
from order_platform.adapters.unit_of_work import SqlUnitOfWork
from order_platform.entrypoints import dlq
from order_platform.entrypoints import relay as relay_entrypoint
from order_platform.processes import RELAY
from order_platform.service_layer.relay import OutboxRelay, outage_wait, run_until_stopped
from tests.integration.pipeline.harness import wait_until


class RecordingEvents:
    """The real events client, recording the entries of every PutEvents call it forwards."""

    def __init__(self, real, fail_first: int = 0, fail_calls: frozenset[int] = frozenset()):
        self._real = real
        self.calls: list[list[dict]] = []
        self._fail_left = fail_first
        self._fail_calls = fail_calls
        self._count = 0
        self._lock = threading.Lock()

    def put_events(self, Entries):  # boto3 spells it Entries
        with self._lock:
            self._count += 1
            if self._fail_left or self._count in self._fail_calls:
                self._fail_left = max(0, self._fail_left - 1)
                raise EndpointConnectionError(endpoint_url="http://bus.invalid")
            self.calls.append(Entries)
        return self._real.put_events(Entries=Entries)

    def sent_event_ids(self) -> list[str]:
        return [json.loads(e["Detail"])["event_id"] for call in self.calls for e in call]


def _dlq(pipeline, *argv: str) -> str:
    """Run an ``order-platform dlq`` command in-process; its output."""
    out = io.StringIO()
    assert dlq.run(pipeline.settings, list(argv), out) == 0
    return out.getvalue()


def _stage_orders_created(pipeline, count: int) -> list[str]:
    """Outbox rows only (no orders needed to publish): returns their event ids."""
    ids = []
    with SqlUnitOfWork(pipeline.database(size=1)) as uow:
        for _ in range(count):
            ids.append(uow.outbox.add(topology.ORDER_CREATED, {
                "order_id": str(uuid.uuid4()), "customer_id": "c", "total_cents": 1,
                "lines": [{"product_id": str(uuid.uuid4()), "quantity": 1,
                           "unit_price_cents": 1}]}))
        uow.commit()
    return ids


def _relay(pipeline, bus, **options) -> OutboxRelay:
    """A relay on a pool of the private database, publishing to ``bus``."""
    return OutboxRelay(SqlUnitOfWork(pipeline.database()), bus, **options)


def test_publishes_in_batches_of_ten_and_marks_rows_published(pipeline):
    event_ids = _stage_orders_created(pipeline, 25)
    events = RecordingEvents(pipeline.events())
    relay = _relay(pipeline, pipeline.bus(events))

    assert relay.drain() == 25

    assert [len(c) for c in events.calls] == [10, 10, 5]
    assert all(r["published_at"] is not None for r in pipeline.outbox())
    delivered = pipeline.receive_all(pipeline.queue_url(topology.STOCK_VALIDATION_QUEUE),
                                     expect=25)
    # The bus delivered each event once, through the rule, as an EventBridge envelope.
    assert sorted(m["detail"]["event_id"] for m in delivered) == sorted(event_ids)
    assert {m["detail-type"] for m in delivered} == {"OrderCreated"}


def test_a_rejected_entry_is_retried_alone_and_the_accepted_ones_are_not_resent(pipeline):
    good = _stage_orders_created(pipeline, 4)
    # An entry the emulator rejects per entry: an empty Source (InvalidArgument).
    pipeline.query("UPDATE outbox SET source = '' WHERE event_id = %s", (good[1],))
    bad = good.pop(1)
    events = RecordingEvents(pipeline.events())
    now = [1000.0]
    relay = _relay(pipeline, pipeline.bus(events), clock=lambda: now[0])

    first = relay.publish_batch()
    assert (first.claimed, first.published, first.failed) == (4, 3, 1)
    row = pipeline.query("SELECT * FROM outbox WHERE event_id = %s", (bad,))[0]
    assert row["published_at"] is None and row["attempts"] == 1
    assert "InvalidArgument" in row["last_error"]

    # While its backoff runs, the row is not claimed at all.
    assert relay.publish_batch().claimed == 0
    now[0] += 10_000  # past any backoff
    second = relay.publish_batch()
    assert (second.claimed, second.failed) == (1, 1)
    assert [json.loads(e["Detail"])["event_id"] for e in events.calls[-1]] == [bad]

    # The cause goes away (on AWS: throttling or an internal error passes); it is published.
    pipeline.query("UPDATE outbox SET source = %s WHERE event_id = %s",
                   (topology.ORDERS_SOURCE, bad))
    now[0] += 10_000
    assert relay.publish_batch().published == 1

    sent = Counter(events.sent_event_ids())
    assert all(sent[e] == 1 for e in good), "an accepted entry was sent again"
    assert sent[bad] == 3
    delivered = pipeline.receive_all(pipeline.queue_url(topology.STOCK_VALIDATION_QUEUE),
                                     expect=4)
    assert sorted(m["detail"]["event_id"] for m in delivered) == sorted([*good, bad])
    assert all(r["published_at"] is not None for r in pipeline.outbox())


def test_two_relays_at_once_never_send_a_row_twice(pipeline):
    event_ids = _stage_orders_created(pipeline, 60)
    events = RecordingEvents(pipeline.events())
    relays = [_relay(pipeline, pipeline.bus(events)) for _ in range(2)]
    published = [0, 0]

    def run(i):
        published[i] = relays[i].drain()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert sum(published) == 60
    assert sorted(events.sent_event_ids()) == sorted(event_ids)  # each exactly once
    assert all(len(c) <= 10 for c in events.calls)


def test_bus_unreachable_leaves_rows_unpublished_then_recovers_with_backoff(pipeline):
    event_ids = _stage_orders_created(pipeline, 3)
    events = RecordingEvents(pipeline.events(), fail_first=3)
    relay = _relay(pipeline, pipeline.bus(events))

    with pytest.raises(BusUnavailable):
        relay.publish_batch()
    row = pipeline.outbox()[0]
    # An outage is not the row's fault: nothing claimed stays locked or counts an attempt.
    assert row["published_at"] is None and row["attempts"] == 0

    stop = threading.Event()
    loop = threading.Thread(target=run_until_stopped, args=(relay, stop),
                            kwargs={"outages": DATABASE_DOWN, "idle_seconds": 0.05,
                                    "max_backoff_seconds": 0.5})
    loop.start()
    try:
        wait_until(lambda: all(r["published_at"] for r in pipeline.outbox()), timeout=30,
                   what="rows published after the outage")
    finally:
        stop.set()
        loop.join(10)
    assert not loop.is_alive()
    assert sorted(events.sent_event_ids()) == sorted(event_ids)


def test_unknown_bus_is_an_outage_not_a_per_entry_failure(pipeline):
    _stage_orders_created(pipeline, 2)
    relay = _relay(pipeline, type(pipeline.bus())(pipeline.events(), "no-bus"))
    with pytest.raises(BusUnavailable, match="no-bus"):
        relay.publish_batch()
    assert [r["attempts"] for r in pipeline.outbox()] == [0, 0]


def _reject_forever(pipeline, event_id: str) -> None:
    """Make the emulator reject this row's entry: an empty Source is InvalidArgument."""
    pipeline.query("UPDATE outbox SET source = '' WHERE event_id = %s", (event_id,))


def _row(pipeline, event_id: str) -> dict:
    return pipeline.query("SELECT * FROM outbox WHERE event_id = %s", (event_id,))[0]


def test_a_row_the_bus_keeps_rejecting_is_parked_then_replayed_with_the_dlq_tool(pipeline,
                                                                                   caplog):
    good = _stage_orders_created(pipeline, 3)
    bad = good.pop(1)
    _reject_forever(pipeline, bad)
    events = RecordingEvents(pipeline.events())
    now = [1000.0]
    relay = _relay(pipeline, pipeline.bus(events), max_attempts=3,
                        clock=lambda: now[0])

    reports = []
    for _ in range(5):  # more cycles than attempts, each past the row's backoff
        reports.append(relay.publish_batch())
        now[0] += 10_000
    assert [(r.claimed, r.failed, r.parked) for r in reports] == [
        (3, 1, 0), (1, 1, 0), (1, 1, 1), (0, 0, 0), (0, 0, 0)]
    assert Counter(events.sent_event_ids())[bad] == 3, "a parked row is not sent again"
    row = _row(pipeline, bad)
    assert row["parked_at"] is not None and row["published_at"] is None
    assert row["attempts"] == 3 and "InvalidArgument" in row["last_error"]
    assert all(_row(pipeline, e)["published_at"] for e in good)
    (loud,) = [r for r in caplog.records if "PARKED" in r.getMessage()]
    assert loud.levelno == logging.ERROR and loud.event_id == bad and loud.attempts == 3

    # The operator sees it, fixes the cause, and replays it with the DLQ tool.
    (listed,) = [json.loads(x) for x in _dlq(pipeline, "outbox").splitlines()]
    assert (listed["event_id"], listed["attempts"]) == (bad, 3)
    assert "InvalidArgument" in listed["last_error"] and listed["detail_bytes"] > 0
    pipeline.query("UPDATE outbox SET source = %s WHERE event_id = %s",
                   (topology.ORDERS_SOURCE, bad))
    assert json.loads(_dlq(pipeline, "outbox-retry", "--id", str(row["id"]))) == {
        "unparked": [row["id"]]}
    assert _dlq(pipeline, "outbox") == ""

    assert relay.publish_batch().published == 1
    assert _row(pipeline, bad)["published_at"] is not None
    delivered = pipeline.receive_all(pipeline.queue_url(topology.STOCK_VALIDATION_QUEUE),
                                     expect=3)
    assert sorted(m["detail"]["event_id"] for m in delivered) == sorted([*good, bad])


def test_outbox_retry_all_unparks_every_parked_row_and_nothing_else(pipeline):
    ids = _stage_orders_created(pipeline, 3)
    for event_id in ids[:2]:
        _reject_forever(pipeline, event_id)
    relay = _relay(pipeline, pipeline.bus(), max_attempts=1)
    assert relay.publish_batch().parked == 2
    parked = sorted(_row(pipeline, e)["id"] for e in ids[:2])

    assert json.loads(_dlq(pipeline, "outbox-retry", "--all")) == {"unparked": parked}
    assert json.loads(_dlq(pipeline, "outbox-retry", "--all")) == {"unparked": []}
    assert [_row(pipeline, e)["attempts"] for e in ids[:2]] == [0, 0]
    assert _row(pipeline, ids[2])["published_at"] is not None


def test_an_entry_too_large_for_put_events_is_never_sent_and_parks_alone(pipeline):
    ids = _stage_orders_created(pipeline, 3)
    huge = ids[1]
    pipeline.query("UPDATE outbox SET detail = detail || jsonb_build_object('note', "
                   "repeat('x', %s)) WHERE event_id = %s", (MAX_REQUEST_BYTES, huge))
    events = RecordingEvents(pipeline.events())
    relay = _relay(pipeline, pipeline.bus(events), max_attempts=1)

    report = relay.publish_batch()

    # On AWS the whole request would fail, for ever, with the small rows in it.
    assert (report.published, report.failed, report.parked) == (2, 1, 1)
    assert huge not in events.sent_event_ids()
    assert ENTRY_TOO_LARGE in _row(pipeline, huge)["last_error"]
    assert _row(pipeline, huge)["parked_at"] is not None


def test_calls_are_packed_under_the_request_size_limit(pipeline):
    ids = _stage_orders_created(pipeline, 3)
    # About 100 KB each: two fit in one request, three do not.
    pipeline.query("UPDATE outbox SET detail = detail || jsonb_build_object('note', "
                   "repeat('x', 100000))")
    events = RecordingEvents(pipeline.events())
    relay = _relay(pipeline, pipeline.bus(events))

    assert relay.publish_batch().published == 3

    assert [len(c) for c in events.calls] == [2, 1]
    assert all(sum(entry_size(e) for e in call) < MAX_REQUEST_BYTES for call in events.calls)
    assert sorted(events.sent_event_ids()) == sorted(ids)


def test_when_a_later_call_fails_what_earlier_calls_settled_is_kept(pipeline):
    ids = _stage_orders_created(pipeline, 3)
    pipeline.query("UPDATE outbox SET detail = detail || jsonb_build_object('note', "
                   "repeat('x', 100000))")
    events = RecordingEvents(pipeline.events(), fail_calls={2})
    relay = _relay(pipeline, pipeline.bus(events))

    with pytest.raises(BusUnavailable):
        relay.publish_batch()

    assert [bool(_row(pipeline, e)["published_at"]) for e in ids] == [True, True, False]
    assert _row(pipeline, ids[2])["attempts"] == 0, "an outage is not the row's fault"
    assert relay.publish_batch().published == 1
    assert sorted(events.sent_event_ids()) == sorted(ids), "nothing accepted was sent twice"


def test_a_row_locked_by_another_relay_is_skipped_not_waited_for(pipeline, pg_server):
    ids = _stage_orders_created(pipeline, 15)
    # Another relay's open transaction holds the first ten rows.
    holder = psycopg2.connect(**pg_server.superuser_dsn(pipeline.settings.db_name))
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT id FROM outbox ORDER BY id LIMIT 10 FOR UPDATE")
        relay = _relay(pipeline, pipeline.bus())
        reports = []
        cycle = threading.Thread(target=lambda: reports.append(relay.publish_batch()))
        cycle.start()
        cycle.join(30)
        assert not cycle.is_alive(), "the relay waited for rows another relay holds"
        assert reports[0].published == 5
        assert [bool(_row(pipeline, e)["published_at"]) for e in ids] == [False] * 10 + [True] * 5
    finally:
        holder.rollback()
        holder.close()


def test_outage_backoff_is_exponential_with_full_jitter(pipeline, caplog):
    _stage_orders_created(pipeline, 1)
    events = RecordingEvents(pipeline.events(), fail_first=4)
    relay = _relay(pipeline, pipeline.bus(events))
    stop = threading.Event()
    loop = threading.Thread(target=run_until_stopped, args=(relay, stop),
                            kwargs={"outages": DATABASE_DOWN, "idle_seconds": 0.05,
                                    "max_backoff_seconds": 2})
    caplog.set_level(logging.WARNING, logger="order_platform.service_layer.relay")
    loop.start()
    try:
        wait_until(lambda: pipeline.outbox()[0]["published_at"], timeout=30,
                   what="published after four failed calls")
    finally:
        stop.set()
        loop.join(10)
    waits = [(r.attempt, r.backoff_seconds) for r in caplog.records
             if r.getMessage() == "relay cannot publish; backing off"]
    # One wait per failed call, each drawn from [0, min(cap, 0.5 * 2^(n-1))].
    assert [n for n, _ in waits] == [1, 2, 3, 4]
    assert all(0 < w <= min(2, 0.5 * 2 ** (n - 1)) for n, w in waits)
    # Full jitter: the same attempt's wait is drawn afresh each time, not fixed.
    draws = {round(outage_wait(30)(_attempt_state(5)), 6) for _ in range(50)}
    assert len(draws) > 40 and all(0 <= d <= 8 for d in draws)


def _attempt_state(number: int):
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})
    state.attempt_number = number
    return state


def test_stop_during_a_put_events_that_hangs_ends_within_the_grace(pipeline):
    """A bus that accepts connections and never answers: the relay still stops in time."""
    _stage_orders_created(pipeline, 1)
    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(16)  # the kernel completes connections; nobody ever answers
        endpoint = f"http://127.0.0.1:{blackhole.getsockname()[1]}"
        client = aws.client("events", replace(pipeline.settings, aws_endpoint_url=endpoint),
                            config=relay_entrypoint.PUT_EVENTS_CONFIG)
        relay = _relay(pipeline, pipeline.bus(client))
        stop = threading.Event()
        loop = threading.Thread(target=run_until_stopped, args=(relay, stop),
                                kwargs={"outages": DATABASE_DOWN, "idle_seconds": 0.05})
        loop.start()
        wait_until(lambda: pipeline.query(
            "SELECT count(*) AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'outbox' AND l.mode = 'RowShareLock'")[0]["n"],
            timeout=10, what="a cycle holding its claim while PutEvents hangs")
        stop.set()  # what SIGTERM does
        loop.join(RELAY.shutdown_grace_seconds)
        assert not loop.is_alive(), "the relay outlived its shutdown grace"
    row = pipeline.outbox()[0]
    assert row["published_at"] is None and row["attempts"] == 0
