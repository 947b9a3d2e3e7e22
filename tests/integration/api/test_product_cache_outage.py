"""The product cache failing under the read API, for real: killed, restarted, frozen. Reads
never fail because of it, the breaker stops the attempts, and reads return to the cache on
their own once it answers. /readyz never looks at it."""

from __future__ import annotations

import socket
import threading
import uuid
from collections import Counter

import pytest

from order_platform.adapters import cache as cache_adapter
from order_platform.adapters.breaker import CircuitBreaker, State
from order_platform.entrypoints.read_api.app import create_app
from tests.integration.api.test_product_cache import cache_status
from tests.integration.pipeline.harness import wait_until
from tests.support.cache import Read, read_load

READERS = 4
"""Per reader thread: the load loop is bounded even if the test's own checks hang."""


@pytest.fixture
def apps():
    """Read APIs made by the test; their pools and caches closed afterwards."""
    made = []

    def make(settings, cache):
        app = create_app(settings, cache=cache)
        made.append((app, cache))
        return app

    yield make
    for app, cache in made:
        app.extensions["order_platform"].database.close()
        cache.close()


class FrozenCache:
    """A port that accepts connections and never answers: a cache that hangs. Counts the
    connections it was offered."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def test_a_killed_cache_costs_no_read_an_error_and_reads_return_to_it(settings, apps,
                                                                      make_product,
                                                                      own_cache_server):
    breaker = CircuitBreaker("test cache", failures_to_open=3, open_seconds=0.5)
    app = apps(settings, cache_adapter.connect(own_cache_server.url, breaker=breaker))
    product = make_product(stock=13)
    url = f"/products/{product['sku']}"

    def reader() -> Read:
        client = app.test_client()

        def read() -> tuple[int, str]:
            response = client.get(url)
            assert response.json["stock"] == 13 or response.status_code != 200
            return response.status_code, cache_status(response)
        return read

    with read_load(reader, READERS) as seen:
        wait_until(lambda: seen.count((200, "hit")) >= 20, timeout=30, what="reads hitting")
        own_cache_server.kill()
        killed_at = len(seen)
        wait_until(lambda: seen[killed_at:].count((200, "fwd=bypass")) >= 20, timeout=30,
                   what="reads going to the reader")
        assert breaker.opened >= 1
        assert app.test_client().get("/readyz").status_code == 200
        own_cache_server.start()
        back_at = len(seen)
        wait_until(lambda: seen[back_at:].count((200, "hit")) >= 20, timeout=30,
                   what="reads hitting the restarted cache")
    statuses = Counter(status for status, _ in seen)
    assert statuses == {200: len(seen)}, f"no read may fail: {statuses}"
    assert breaker.state is State.CLOSED


@pytest.mark.timeout(60)  # a read that waited on the frozen cache for ever would hang here
def test_a_frozen_cache_is_given_up_on_within_its_timeouts_and_then_not_tried(settings, apps,
                                                                              make_product):
    frozen = FrozenCache()
    try:
        breaker = CircuitBreaker("test cache", failures_to_open=3, open_seconds=3600)
        app = apps(settings, cache_adapter.connect(frozen.url, breaker=breaker))
        client = app.test_client()
        product = make_product(stock=14)

        for _ in range(3):
            response = client.get(f"/products/{product['id']}")
            assert (response.status_code, cache_status(response)) == (200, "fwd=bypass")
        assert breaker.state is State.OPEN
        tried = len(frozen.accepted)
        assert tried >= 1

        for _ in range(20):
            response = client.get(f"/products/{product['id']}")
            assert (response.status_code, cache_status(response)) == (200, "fwd=bypass")
            assert response.json["stock"] == 14
        assert len(frozen.accepted) == tried, "an open breaker makes no attempt"
        assert client.get("/readyz").status_code == 200
    finally:
        frozen.close()


def test_readiness_does_not_depend_on_the_cache(settings, apps, own_cache_server):
    app = apps(settings, cache_adapter.connect(own_cache_server.url))
    own_cache_server.stop()
    assert app.test_client().get("/readyz").status_code == 200
    missing = app.test_client().get(f"/products/NONE-{uuid.uuid4().hex[:8]}")
    assert missing.status_code == 404, "a down cache changes no answer"
