"""The product cache with real processes: a restock through the write API reaches the cached
read API through relay, bus, queue and worker; killing the cache under read load costs no
request a 5xx, and reads return to the cache on their own when it is back."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from order_platform.processes import READ_API
from order_platform.service_layer import product_cache as pc
from tests.integration.pipeline.harness import wait_until
from tests.support.cache import Read, read_load
from tests.support.platform import free_port
from tests.support.processes import command, environment

pytestmark = pytest.mark.e2e

READERS = 4
"""Per reader thread, so the load ends even if the test's own checks hang."""


def _read_api(services, cache_url: str) -> str:
    port = free_port()
    services.start("read-api", command(READ_API, port),
                   {**environment(READ_API), "CACHE_URL": cache_url}, port=port)
    return f"http://127.0.0.1:{port}"


def _status(response) -> str:
    return response.headers["Cache-Status"].removeprefix(f"{pc.CACHE_NAME}; ")


def _product(pipeline, write_api: str, stock: int) -> dict:
    response = requests.post(f"{write_api}/products", timeout=10,
                             headers=pipeline.bearer("admin-1", "admin"), json={
        "sku": f"CACHE-{uuid.uuid4().hex[:10]}", "name": "Cached", "price_cents": 700,
        "stock": stock})
    assert response.status_code == 201, response.text
    return response.json()


def _stock_on(read_api: str, ref: str) -> tuple[int, str]:
    response = requests.get(f"{read_api}/products/{ref}", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["stock"], _status(response)


def test_a_restock_and_a_sale_show_on_the_cached_read_api(pipeline, services, own_cache_server):
    write_api = services.write_api()
    services.relay()
    services.worker(CACHE_URL=own_cache_server.url)
    read_api = _read_api(services, own_cache_server.url)
    product = _product(pipeline, write_api, stock=10)
    # Cached once the ProductCreated eviction (which may land after our first fill) is past.
    wait_until(lambda: _stock_on(read_api, product["sku"]) == (10, "hit"), timeout=30,
               what="the product cached")

    restocked = requests.post(f"{write_api}/products/{product['sku']}/stock", timeout=10,
                              headers=pipeline.bearer("admin-1", "admin"),
                              json={"mode": "set", "quantity": 25})
    assert restocked.status_code == 200, restocked.text
    wait_until(lambda: _stock_on(read_api, product["sku"])[0] == 25, timeout=30, interval=0.05,
               what="the restock on the read API")

    order = requests.post(f"{write_api}/orders", timeout=10, headers=pipeline.bearer("cache-e2e"),
                          json={"items": [{"sku": product["sku"], "quantity": 4}]})
    assert order.status_code == 202, order.text
    wait_until(lambda: _stock_on(read_api, product["id"])[0] == 21, timeout=30, interval=0.05,
               what="the sale on the read API, by id")
    wait_until(lambda: _stock_on(read_api, product["sku"]) == (21, "hit"), timeout=30,
               what="the sale on the read API, by SKU, and cached again")


def test_killing_the_cache_under_read_load_gives_no_5xx_and_reads_recover(pipeline, services,
                                                                         own_cache_server):
    write_api = services.write_api()
    read_api = _read_api(services, own_cache_server.url)
    product = _product(pipeline, write_api, stock=10)
    url = f"{read_api}/products/{product['sku']}"

    def reader() -> Read:
        session = requests.Session()

        def read() -> tuple[int, str]:
            response = session.get(url, timeout=10)
            return response.status_code, response.headers.get("Cache-Status", "")
        return read

    def count(status: str, since: int) -> int:
        return sum(1 for code, header in seen[since:]
                   if code == 200 and header.endswith(f"; {status}"))

    with read_load(reader, READERS) as seen:
        wait_until(lambda: count("hit", 0) >= 50, timeout=30, what="reads hitting")
        own_cache_server.kill()
        killed_at = len(seen)
        wait_until(lambda: count("fwd=bypass", killed_at) >= 200, timeout=60,
                   what="reads going to the reader")
        own_cache_server.start()
        back_at, back = len(seen), time.monotonic()
        wait_until(lambda: count("hit", back_at) >= 50, timeout=60,
                   what="reads hitting the restarted cache")
        print(f"\nreads back on the cache {time.monotonic() - back:.2f} s after its restart")
    failed = [code for code, _ in seen if code != 200]
    print(f"{len(seen)} reads, {len(failed)} not 200")
    assert failed == []
