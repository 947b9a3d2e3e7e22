"""The outbox relay against real PostgreSQL and the moto server's EventBridge and SQS."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter

import pytest
from botocore.exceptions import EndpointConnectionError

from order_platform import topology
from order_platform.adapters import outbox
from order_platform.adapters.event_bus import BusUnavailable
from order_platform.service_layer.relay import OutboxRelay, run_until_stopped
from tests.integration.pipeline.harness import wait_until


class RecordingEvents:
    """The real events client, recording the entries of every PutEvents call it forwards."""

    def __init__(self, real, fail_first: int = 0):
        self._real = real
        self.calls: list[list[dict]] = []
        self._fail_left = fail_first
        self._lock = threading.Lock()

    def put_events(self, Entries):  # boto3 spells it Entries
        with self._lock:
            if self._fail_left:
                self._fail_left -= 1
                raise EndpointConnectionError(endpoint_url="http://bus.invalid")
            self.calls.append(Entries)
        return self._real.put_events(Entries=Entries)

    def sent_event_ids(self) -> list[str]:
        return [json.loads(e["Detail"])["event_id"] for call in self.calls for e in call]


def _stage_orders_created(pipeline, count: int) -> list[str]:
    """Outbox rows only (no orders needed to publish): returns their event ids."""
    db = pipeline.database(size=1)
    ids = []
    with db.transaction() as cur:
        for _ in range(count):
            ids.append(outbox.add_event(cur, topology.ORDER_CREATED, {
                "order_id": str(uuid.uuid4()), "customer_id": "c", "total_cents": 1,
                "lines": [{"product_id": str(uuid.uuid4()), "quantity": 1,
                           "unit_price_cents": 1}]}))
    return ids


def test_publishes_in_batches_of_ten_and_marks_rows_published(pipeline):
    event_ids = _stage_orders_created(pipeline, 25)
    events = RecordingEvents(pipeline.events())
    relay = OutboxRelay(pipeline.database(), pipeline.bus(events))

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
    relay = OutboxRelay(pipeline.database(), pipeline.bus(events), clock=lambda: now[0])

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
    relays = [OutboxRelay(pipeline.database(), pipeline.bus(events)) for _ in range(2)]
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
    relay = OutboxRelay(pipeline.database(), pipeline.bus(events))

    with pytest.raises(BusUnavailable):
        relay.publish_batch()
    row = pipeline.outbox()[0]
    # An outage is not the row's fault: nothing claimed stays locked or counts an attempt.
    assert row["published_at"] is None and row["attempts"] == 0

    stop = threading.Event()
    loop = threading.Thread(target=run_until_stopped, args=(relay, stop),
                            kwargs={"idle_seconds": 0.05, "max_backoff_seconds": 0.5})
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
    relay = OutboxRelay(pipeline.database(), type(pipeline.bus())(pipeline.events(), "no-bus"))
    with pytest.raises(BusUnavailable, match="no-bus"):
        relay.publish_batch()
    assert [r["attempts"] for r in pipeline.outbox()] == [0, 0]
