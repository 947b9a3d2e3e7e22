"""The product-cache consumer on moto and a real redis-server: catalogue events on the bus
reach its queue and evict; while the cache is down evictions wait, spending no receive; with
no cache in the stack the queue is drained without effect."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from order_platform import topology
from order_platform.adapters import cache as cache_adapter
from order_platform.adapters.outage import Failure, classify
from order_platform.domain.catalog import ProductRef
from order_platform.entrypoints.worker.wiring import (
    dependency_gates,
    event_handlers,
    message_handler,
)
from order_platform.service_layer import product_cache as pc
from tests.integration.pipeline.harness import wait_until
from tests.integration.pipeline.test_consumers import RunningConsumer

QUEUE = topology.PRODUCT_CACHE_QUEUE


class Recorded:
    """A message handler that also notes each attempt: (receive count, failure or None)."""

    def __init__(self, handle) -> None:
        self._handle = handle
        self.attempts: list[tuple[int, Failure | None]] = []

    def __call__(self, message):
        try:
            outcome = self._handle(message)
        except Exception as exc:
            self.attempts.append((message.receive_count, classify(exc)))
            raise
        self.attempts.append((message.receive_count, None))
        return outcome


def _consumer(pipeline, cache) -> tuple[RunningConsumer, Recorded]:
    handle = Recorded(message_handler(QUEUE, event_handlers(None, None, cache)[QUEUE]))
    gate = dependency_gates(pipeline.database(size=1), cache)[QUEUE]
    return RunningConsumer(pipeline, QUEUE, handle, gate=gate), handle


def _publish(pipeline, event_type: topology.EventType, detail: dict) -> None:
    body = {**detail, "event_id": str(uuid.uuid4()),
            "occurred_at": datetime.now(UTC).isoformat()}
    result = pipeline.events().put_events(Entries=[{
        "Source": event_type.source, "DetailType": event_type.name,
        "Detail": json.dumps(body), "EventBusName": pipeline.settings.event_bus_name}])
    assert result["FailedEntryCount"] == 0


def _cached_product(client) -> tuple[str, str, list[str]]:
    """A product's entries by id and by SKU, as the read API would have filled them."""
    product_id, sku = str(uuid.uuid4()), f"SKU-{uuid.uuid4().hex[:8]}"
    keys = [pc.product_key(ProductRef(product_id=uuid.UUID(product_id))),
            pc.product_key(ProductRef(sku=sku))]
    for key in keys:
        client.set(key, b"{}", px=60_000)
    return product_id, sku, keys


@pytest.fixture
def cache(own_cache_server):
    client = cache_adapter.connect(own_cache_server.url)
    yield client
    client.close()


@pytest.mark.parametrize("event_type", [topology.PRODUCT_CREATED, topology.PRODUCT_RESTOCKED,
                                        topology.INVENTORY_UPDATED])
def test_a_catalogue_event_on_the_bus_evicts_the_product(pipeline, cache, own_cache_server,
                                                         event_type):
    client = own_cache_server.client()
    product_id, sku, keys = _cached_product(client)
    line = {"product_id": product_id, "sku": sku}
    detail = ({"order_id": str(uuid.uuid4()), "lines": [{**line, "quantity": 1}]}
              if event_type is topology.INVENTORY_UPDATED else {**line, "stock": 5})
    running, handle = _consumer(pipeline, cache)

    with running:
        _publish(pipeline, event_type, detail)
        wait_until(lambda: not client.exists(*keys), timeout=30, what="the eviction")
        wait_until(lambda: pipeline.depth(pipeline.queue_url(QUEUE)) == (0, 0), timeout=30,
                   what="the message acknowledged")

    assert handle.attempts == [(1, None)]
    assert client.get(pc.LIST_GENERATION) == b"1", "every list page is in a new generation"
    assert 0 < client.pttl(pc.changed_marker(product_id)) <= pc.CHANGED_WINDOW_MS


def test_while_the_cache_is_down_an_eviction_waits_and_spends_no_receive(pipeline, cache,
                                                                         own_cache_server):
    running, handle = _consumer(pipeline, cache)
    with running:
        wait_until(lambda: running.consumer.gate.closed, timeout=30, what="the cache probed")
        own_cache_server.kill()
        product_id = str(uuid.uuid4())
        _publish(pipeline, topology.PRODUCT_RESTOCKED, {"product_id": product_id,
                                                         "sku": "KB-001", "stock": 1})
        wait_until(lambda: handle.attempts, timeout=30, what="an attempt")
        assert handle.attempts[0] == (1, Failure.DEPENDENCY)
        assert not running.consumer.gate.closed, "the consumer pauses for the cache"
        wait_until(lambda: pipeline.depth(pipeline.queue_url(QUEUE)) == (0, 1), timeout=30,
                   what="the message held in flight")

        own_cache_server.start()
        wait_until(lambda: pipeline.depth(pipeline.queue_url(QUEUE)) == (0, 0), timeout=60,
                   what="the eviction once the cache is back")

    assert handle.attempts[-1] == (1, None), "one receive, however long the outage"
    assert own_cache_server.client().exists(pc.changed_marker(product_id))
    assert pipeline.depth(pipeline.queue_url(QUEUE, "dlq")) == (0, 0)


def test_without_a_cache_the_queue_is_drained_without_effect(pipeline):
    running, handle = _consumer(pipeline, None)
    with running:
        _publish(pipeline, topology.PRODUCT_CREATED, {"product_id": str(uuid.uuid4()),
                                                       "sku": "KB-001", "stock": 1})
        wait_until(lambda: pipeline.depth(pipeline.queue_url(QUEUE)) == (0, 0)
                   and handle.attempts, timeout=30, what="the message acknowledged")
    assert handle.attempts == [(1, None)]


def test_a_database_outage_does_not_hold_evictions(pipeline, cache):
    gates = dependency_gates(pipeline.database(size=1), cache)
    writer_gate = gates[topology.STOCK_VALIDATION_QUEUE]
    assert gates[topology.INVENTORY_UPDATE_QUEUE] is writer_gate
    assert gates[QUEUE] is not writer_gate
    writer_gate.trip(RuntimeError("writer down"))
    assert not writer_gate.closed
    assert gates[QUEUE].closed is False  # not yet probed: it probes the cache, not the writer
