"""Adding a route to the topology without a worker handler fails here, not in production."""

from order_platform import topology
from order_platform.entrypoints.worker.wiring import event_handlers


def test_every_topology_queue_has_exactly_one_handler():
    # Pools are only captured by the handlers, never used while building the map.
    assert set(event_handlers(writer=None, reader=None)) == set(topology.QUEUES)


def test_consumer_names_are_unique_because_they_key_deduplication():
    consumers = [q.consumer for q in topology.QUEUES]
    assert len(consumers) == len(set(consumers))
