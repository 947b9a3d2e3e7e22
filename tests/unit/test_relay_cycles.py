"""One relay cycle on the persistence port's fakes and a fake bus: what it marks published,
counts as rejected, parks, and leaves alone when the bus is down."""

from __future__ import annotations

import pytest

from order_platform import topology
from order_platform.service_layer.ports import BusUnavailable, EntryResult, OutgoingEvent
from order_platform.service_layer.relay import OutboxRelay, backlog, parked_rows, unpark
from tests.unit.fakes import FakeBus, FakeUnitOfWork, Store


def _stage(store: Store, count: int) -> None:
    with FakeUnitOfWork(store) as uow:
        for n in range(count):
            uow.outbox.add(topology.ORDER_CREATED, {
                "order_id": f"o-{n}", "customer_id": "c", "total_cents": 1,
                "lines": [{"product_id": "p", "quantity": 1, "unit_price_cents": 1}]})
        uow.commit()


def test_a_cycle_publishes_up_to_a_batch_in_row_order_and_marks_them():
    store, bus = Store(), FakeBus()
    _stage(store, 12)
    relay = OutboxRelay(FakeUnitOfWork(store), bus)
    report = relay.publish_batch()
    assert (report.claimed, report.published, report.failed) == (10, 10, 0)
    assert [event.key for event in bus.sent] == list(range(1, 11))
    assert [row["published"] for row in store.outbox.values()] == [True] * 10 + [False] * 2
    assert relay.drain() == 2
    assert backlog(FakeUnitOfWork(store)).waiting == 0


def test_a_rejected_row_waits_out_its_backoff_then_parks_after_its_attempts():
    store, now = Store(), [1000.0]
    _stage(store, 2)
    relay = OutboxRelay(FakeUnitOfWork(store), FakeBus(rejecting={2}), max_attempts=2,
                        clock=lambda: now[0])
    first = relay.publish_batch()
    assert (first.published, first.failed, first.parked) == (1, 1, 0)
    assert store.outbox[2]["attempts"] == 1 and "Rejected" in store.outbox[2]["last_error"]
    assert relay.publish_batch().claimed == 0  # its backoff is running
    now[0] += 10_000
    second = relay.publish_batch()
    assert (second.claimed, second.parked) == (1, 1)
    assert [row["id"] for row in parked_rows(FakeUnitOfWork(store))] == [2]
    now[0] += 10_000
    assert relay.publish_batch().claimed == 0  # parked: never claimed again
    assert unpark(FakeUnitOfWork(store)) == [2]
    assert store.outbox[2]["attempts"] == 0 and not store.outbox[2]["parked"]


def test_a_bus_outage_marks_nothing_and_counts_no_attempt():
    store = Store()
    _stage(store, 3)
    with pytest.raises(BusUnavailable):
        OutboxRelay(FakeUnitOfWork(store), FakeBus(down=True)).publish_batch()
    assert all(not row["published"] and row["attempts"] == 0 for row in store.outbox.values())


class SettlesThenFails(FakeBus):
    """A bus whose second call fails after its first accepted two events."""

    def publish(self, events: list[OutgoingEvent]) -> list[EntryResult]:
        settled = [EntryResult(e.key, True, envelope_id="x") for e in events[:2]]
        raise BusUnavailable("the second call failed", settled=settled)


def test_what_earlier_calls_settled_is_kept_when_a_later_one_fails():
    store = Store()
    _stage(store, 3)
    with pytest.raises(BusUnavailable):
        OutboxRelay(FakeUnitOfWork(store), SettlesThenFails()).publish_batch()
    assert [row["published"] for row in store.outbox.values()] == [True, True, False]
    assert store.outbox[3]["attempts"] == 0, "an outage is not the row's fault"
