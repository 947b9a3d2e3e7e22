"""The product cache's pure parts: key names, TTLs, the stored form, what an event evicts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from order_platform import processes, topology
from order_platform.adapters.queues import PoisonMessage
from order_platform.domain.catalog import ProductRef
from order_platform.service_layer import product_cache as pc
from order_platform.service_layer.order_queries import Page

PRODUCT_ID = uuid.UUID("0b5e8f36-5a0e-4a43-9a65-1f2d9b0c7e11")


def _product(**overrides):
    return {"id": PRODUCT_ID, "sku": "KB-001", "name": "Keyboard", "price_cents": 8900,
            "stock": 25, "created_at": datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
            "updated_at": datetime(2026, 1, 3, tzinfo=UTC), **overrides}


def test_a_product_has_one_key_by_id_and_one_by_sku_in_the_namespace():
    assert pc.product_key(ProductRef(product_id=PRODUCT_ID)) == (
        f"op:v1:product:id:{PRODUCT_ID}")
    assert pc.product_key(ProductRef(sku="KB-001")) == "op:v1:product:sku:KB-001"
    assert pc.changed_marker(PRODUCT_ID) == f"op:v1:changed:product:{PRODUCT_ID}"


def test_list_pages_live_in_a_namespace_per_generation():
    assert pc.list_key(7, 20, None) == "op:v1:products:g7:20:"
    assert pc.list_key(7, 20, "KB-001") == "op:v1:products:g7:20:KB-001"
    assert pc.list_key(8, 20, "KB-001") != pc.list_key(7, 20, "KB-001")
    assert pc.list_key(7, 21, "KB-001") != pc.list_key(7, 20, "KB-001")


def test_a_lock_is_named_after_its_key_without_repeating_the_namespace():
    key = pc.product_key(ProductRef(sku="KB-001"))
    assert pc.lock_key(key) == "op:v1:lock:product:sku:KB-001"


def test_ttls_are_jittered_down_never_up():
    assert pc.ttl_ms(lambda: 0.0) == pc.TTL_MS
    assert pc.ttl_ms(lambda: 1.0) == int(pc.TTL_MS * (1 - pc.TTL_JITTER))
    assert pc.SETTLING_TTL_MS < pc.CHANGED_WINDOW_MS < pc.TTL_MS


def test_a_stored_product_and_page_come_back_with_the_readers_types():
    product = _product()
    assert pc.decode_product(pc.encode_product(product)) == product
    page = Page(items=[_product(), _product(sku="MS-002")], next_cursor="abc")
    assert pc.decode_page(pc.encode_page(page)) == page


def test_the_cache_status_header_follows_rfc_9211():
    assert pc.CacheStatus.HIT.header == "order-platform-cache; hit"
    assert pc.CacheStatus.STORED.header == "order-platform-cache; fwd=miss; stored"


@pytest.mark.parametrize("event_type", ["ProductCreated", "ProductRestocked"])
def test_a_catalogue_event_names_its_product(event_type):
    detail = {"product_id": str(PRODUCT_ID), "sku": "KB-001", "stock": 3}
    assert pc.changed_products(event_type, detail) == [(str(PRODUCT_ID), "KB-001")]


def test_inventory_updated_names_every_line_and_tolerates_lines_without_sku():
    other = str(uuid.uuid4())
    detail = {"order_id": "o", "lines": [{"product_id": str(PRODUCT_ID), "sku": "KB-001"},
                                         {"product_id": other, "quantity": 1}]}
    assert pc.changed_products("InventoryUpdated", detail) == [
        (str(PRODUCT_ID), "KB-001"), (other, None)]


@pytest.mark.parametrize(("event_type", "detail"), [
    ("InventoryUpdated", {"lines": []}),
    ("InventoryUpdated", {"lines": "nope"}),
    ("InventoryUpdated", {"lines": [{"sku": "KB-001"}]}),
    ("ProductRestocked", {"product_id": "not-a-uuid", "sku": "KB-001"}),
    ("OrderCreated", {"product_id": str(PRODUCT_ID)}),
])
def test_an_event_that_does_not_name_products_is_poison(event_type, detail):
    with pytest.raises(PoisonMessage):
        pc.changed_products(event_type, detail)


def test_without_a_cache_an_eviction_is_acknowledged_without_effect():
    assert pc.evict_for_event(None, "ProductRestocked", {"product_id": "x"}) is (
        pc.Eviction.NO_CACHE)


def test_the_product_cache_route_carries_every_event_that_changes_a_product():
    route = topology.route_for_queue(topology.PRODUCT_CACHE_QUEUE)
    assert {e.name for e in route.event_types} == {
        "ProductCreated", "ProductRestocked", "InventoryUpdated"}


def test_the_catalogue_says_who_reaches_the_cache():
    # The infra reads this for the network rule and the AUTH-secret grant.
    assert processes.CACHE_CLIENTS == (processes.READ_API, processes.WORKER)
    for proc in processes.DEPLOYED:
        if topology.PRODUCT_CACHE_QUEUE in proc.consumes:
            assert proc.reaches_cache, f"{proc.role} evicts, so it must reach the cache"
