"""Invariants of the event topology that every consumer of it relies on."""

from order_platform import topology
from order_platform.config import CONTRACT


def test_every_route_targets_a_queue_whose_url_is_in_the_config_contract():
    contract = {s.env for s in CONTRACT}
    for route in topology.ROUTES:
        assert route.queue.url_env_var in contract


def test_each_queue_is_fed_by_exactly_one_route():
    queues = [r.queue.key for r in topology.ROUTES]
    assert len(queues) == len(set(queues))


def test_dlq_retention_outlives_the_source_queue():
    for queue in topology.QUEUES:
        assert queue.dlq_retention_seconds > queue.retention_seconds
        assert queue.max_receive_count >= 1


def test_event_patterns_name_existing_event_types_and_sources():
    for route in topology.ROUTES:
        pattern = route.event_pattern()
        for name in pattern["detail-type"]:
            assert name in topology.EVENT_TYPES
        assert set(pattern["source"]) == {e.source for e in route.event_types}


def test_pipeline_routes():
    routed = {e.name: r.queue.key for r in topology.ROUTES for e in r.event_types}
    assert routed == {"OrderCreated": "stock-validation", "StockValidated": "inventory-update",
                      "ProductCreated": "product-cache", "ProductRestocked": "product-cache",
                      "InventoryUpdated": "product-cache"}


def test_names_are_derived_from_the_prefix():
    q = topology.STOCK_VALIDATION_QUEUE
    assert q.name("op-dev") == "op-dev-stock-validation"
    assert q.dlq_name("op-dev") == "op-dev-stock-validation-dlq"
    assert topology.bus_name("op-dev") == "op-dev-orders"
