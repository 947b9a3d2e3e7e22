"""The read API's product cache on a real redis-server: a miss fills, the next read hits,
entries expire, events evict, list pages move to a new generation, and no cache means the
reader as before."""

from __future__ import annotations

import uuid

import pytest

from order_platform.adapters import cache as cache_adapter
from order_platform.domain.catalog import ProductRef
from order_platform.entrypoints.read_api.app import create_app
from order_platform.entrypoints.read_api.routes import CACHE_EXTENSION
from order_platform.service_layer import product_cache as pc
from tests.integration.pipeline.harness import wait_until


@pytest.fixture(scope="module")
def cache(cache_server):
    """The adapter on the session's redis-server."""
    client = cache_adapter.connect(cache_server.url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def cached_app(settings, cache):
    """The read API with the product cache."""
    app = create_app(settings, cache=cache)
    yield app
    app.extensions["order_platform"].database.close()


@pytest.fixture
def cached(cached_app):
    """An HTTP client for the read API with the cache."""
    return cached_app.test_client()


def cache_status(response) -> str:
    """What the cache did, from ``Cache-Status``."""
    name, _, status = response.headers["Cache-Status"].partition("; ")
    assert name == pc.CACHE_NAME
    return status


def _restock(write_client, ref: str, stock: int) -> dict:
    response = write_client.post(f"/products/{ref}/stock", json={"mode": "set",
                                                                  "quantity": stock})
    assert response.status_code == 200, response.json
    return response.json


def _restocked_detail(superuser_conn, product_id: str) -> dict:
    """The detail of the product's last ProductRestocked, as the worker would receive it."""
    with superuser_conn.cursor() as cur:
        cur.execute("SELECT detail FROM outbox WHERE event_type = 'ProductRestocked' "
                    "AND detail->>'product_id' = %s ORDER BY id DESC LIMIT 1", (product_id,))
        return cur.fetchone()[0]


@pytest.mark.parametrize("by", ["id", "sku"])
def test_a_miss_fills_with_a_ttl_and_the_next_read_hits(cached, make_product, cache_server, by):
    product = make_product(stock=7)
    ref = product[by]

    first = cached.get(f"/products/{ref}")
    second = cached.get(f"/products/{ref}")

    assert first.status_code == second.status_code == 200
    assert (cache_status(first), cache_status(second)) == ("fwd=miss; stored", "hit")
    assert first.json == second.json == product
    key = pc.product_key(ProductRef.parse(ref))
    ttl = cache_server.client().pttl(key)
    assert pc.TTL_MS * (1 - pc.TTL_JITTER) - 5_000 < ttl <= pc.TTL_MS


def test_an_entry_serves_what_it_holds_until_its_ttl_ends(cached, make_product, cache_server,
                                                         superuser_conn):
    product = make_product(stock=7)
    assert cached.get(f"/products/{product['sku']}").status_code == 200
    with superuser_conn.cursor() as cur:  # a change no event announces: only the TTL helps
        cur.execute("UPDATE products SET stock = 3 WHERE id = %s", (product["id"],))
    assert cached.get(f"/products/{product['sku']}").json["stock"] == 7

    key = pc.product_key(ProductRef(sku=product["sku"]))
    cache_server.client().pexpire(key, 20)
    wait_until(lambda: not cache_server.client().exists(key), timeout=10, interval=0.02,
               what="the entry to expire")

    fresh = cached.get(f"/products/{product['sku']}")
    assert (cache_status(fresh), fresh.json["stock"]) == ("fwd=miss; stored", 3)


def test_an_event_evicts_the_product_by_id_and_by_sku(cached, cache, make_product, write_client,
                                                      superuser_conn):
    product = make_product(stock=7)
    for ref in (product["id"], product["sku"]):
        cached.get(f"/products/{ref}")
        assert cache_status(cached.get(f"/products/{ref}")) == "hit"

    _restock(write_client, product["sku"], 40)
    assert cached.get(f"/products/{product['id']}").json["stock"] == 7, "no eviction yet"
    outcome = pc.evict_for_event(cache, "ProductRestocked",
                                 _restocked_detail(superuser_conn, product["id"]))

    assert outcome is pc.Eviction.EVICTED
    for ref in (product["id"], product["sku"]):
        after = cached.get(f"/products/{ref}")
        assert (cache_status(after), after.json["stock"]) == ("fwd=miss; stored", 40)


def test_inventory_updated_evicts_every_product_of_the_order(cached, cache, make_product):
    products = [make_product(stock=5), make_product(stock=6)]
    for product in products:
        cached.get(f"/products/{product['sku']}")
        cached.get(f"/products/{product['id']}")
    detail = {"order_id": str(uuid.uuid4()), "lines": [
        {"product_id": p["id"], "sku": p["sku"], "quantity": 1} for p in products]}

    pc.evict_for_event(cache, "InventoryUpdated", detail)

    for product in products:
        for ref in (product["id"], product["sku"]):
            assert cache_status(cached.get(f"/products/{ref}")) == "fwd=miss; stored"


def test_list_pages_are_cached_and_any_change_moves_them_to_a_new_generation(cached, cache,
                                                                            make_product):
    # Four products at least, whatever ran before: the first page of three has a next one.
    product, *_ = [make_product() for _ in range(4)]
    first = cached.get("/products?limit=3")
    second = cached.get("/products?limit=3")
    assert (cache_status(first), cache_status(second)) == ("fwd=miss; stored", "hit")
    assert first.json == second.json
    following = cached.get(f"/products?limit=3&cursor={first.json['next_cursor']}")
    assert cache_status(following) == "fwd=miss; stored"

    pc.evict_for_event(cache, "ProductCreated", {"product_id": product["id"],
                                                  "sku": product["sku"]})

    assert cache_status(cached.get("/products?limit=3")) == "fwd=miss; stored"


def test_a_product_that_is_not_there_is_not_cached(cached, cache_server):
    sku = f"NOPE-{uuid.uuid4().hex[:8]}"
    for _ in range(2):
        response = cached.get(f"/products/{sku}")
        assert response.status_code == 404
    key = pc.product_key(ProductRef(sku=sku))
    assert not cache_server.client().exists(key, pc.lock_key(key)), "nothing kept, lock freed"


def test_without_a_cache_every_read_goes_to_the_reader(settings, read_client, make_product):
    assert settings.cache_url is None
    assert read_client.application.extensions[CACHE_EXTENSION] is None
    product = make_product(stock=9)
    for _ in range(2):
        response = read_client.get(f"/products/{product['id']}")
        assert (response.status_code, cache_status(response)) == (200, "fwd=bypass")
        assert response.json == product
    page = read_client.get("/products?limit=2")
    assert (page.status_code, cache_status(page)) == (200, "fwd=bypass")


def test_the_openapi_document_labels_cached_stock(cached):
    spec = cached.get("/openapi.json").json
    for path in ("/products/{ref}", "/products"):
        operation = spec["paths"][path]["get"]
        assert "product cache" in operation["description"]
        assert "informational" in operation["description"]
        ok = operation["responses"]["200"]
        assert "informational" in ok["description"]
        assert "Cache-Status" in ok["headers"]
