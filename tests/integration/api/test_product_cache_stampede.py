"""Stampede protection on a real redis-server: many concurrent misses of one key read the
reader once, and a request that finds the fill lock taken waits a bounded time, then reads the
reader itself without filling."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from order_platform.adapters import cache as cache_adapter
from order_platform.domain.catalog import ProductRef
from order_platform.service_layer import product_cache as pc
from order_platform.service_layer import product_queries

CONCURRENT = 16


@pytest.fixture
def cache(cache_server):
    client = cache_adapter.connect(cache_server.url)
    yield client
    client.close()


@pytest.fixture
def reader(read_app):
    """The read API's read model, on its reader pool."""
    return read_app.extensions["order_platform"].storage.reads


@pytest.fixture
def reader_queries(monkeypatch):
    """Counts the product reads that reach the reader; each takes a little while, as a busy
    reader's would, so that every concurrent request misses before any fill lands."""
    calls = []
    lock = threading.Lock()
    real = product_queries.get_product

    def counted(reads, ref_text):
        with lock:
            calls.append(ref_text)
        time.sleep(0.2)
        return real(reads, ref_text)

    monkeypatch.setattr(product_queries, "get_product", counted)
    return calls


def test_concurrent_misses_of_one_key_read_the_reader_once(cache, reader, reader_queries,
                                                           make_product):
    product = make_product(stock=11)
    start = threading.Barrier(CONCURRENT)

    def read():
        start.wait()
        # A generous wait, so that the test does not depend on how busy the machine is;
        # production waits FILL_WAIT_SECONDS.
        return pc.get_product(reader, cache, product["sku"], wait_seconds=10)

    with ThreadPoolExecutor(CONCURRENT) as pool:
        results = list(pool.map(lambda _: read(), range(CONCURRENT)))

    assert len(reader_queries) == 1
    assert Counter(status for _, status in results) == {
        pc.CacheStatus.STORED: 1, pc.CacheStatus.HIT: CONCURRENT - 1}
    assert all(value["stock"] == 11 for value, _ in results)


def test_a_request_that_finds_the_lock_taken_reads_the_reader_after_a_bounded_wait(
        cache, cache_server, reader, reader_queries, make_product):
    product = make_product(stock=12)
    key = pc.product_key(ProductRef(sku=product["sku"]))
    # Another process holds the fill lock and never fills (it died, say).
    cache_server.client().set(pc.lock_key(key), "someone-else", px=60_000)

    value, status = pc.get_product(reader, cache, product["sku"])

    assert (status, value["stock"]) == (pc.CacheStatus.MISS, 12)
    assert len(reader_queries) == 1
    assert not cache_server.client().exists(key), "only the lock holder fills"
    assert cache_server.client().get(pc.lock_key(key)) == b"someone-else", "not ours to free"
