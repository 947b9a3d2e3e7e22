"""bench.bare_worker, the pipeline benchmark's reference, has the worker's effects: the same
rows, statuses, events, claims and stock, and the same eviction. Otherwise the benchmark's
ratio would compare the worker with something that does less."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from order_platform.adapters import aws
from order_platform.adapters import cache as cache_adapter
from order_platform.adapters.credentials import SecretsManagerCredentials
from order_platform.domain.catalog import ProductRef
from order_platform.service_layer import product_cache as pc
from tests.integration.pipeline.harness import update_inventory, validate_order_stock


@pytest.fixture(scope="module")
def bare():
    from bench import bare_worker

    return bare_worker


@pytest.fixture
def conns(pipeline, bare) -> Iterator[dict]:
    settings = pipeline.settings
    creds = SecretsManagerCredentials(aws.client("secretsmanager", settings),
                                      settings.db_secret_arn).current()
    secret = {"username": creds.username, "password": creds.password}
    opened = {role: bare.connect("127.0.0.1", settings.db_port, settings.db_name, secret,
                                 preparing=role == "writer")
              for role in ("writer", "reader")}
    yield opened
    for conn in opened.values():
        conn.close()


def _event(pipeline, event_type: str, order_id: str) -> dict | None:
    return next((r["detail"] for r in pipeline.outbox(event_type)
                 if r["detail"].get("order_id") == order_id), None)


def _by_project(pipeline, order_id: str, between=lambda: None) -> None:
    writer, reader = pipeline.database(), pipeline.database(reader=True)
    created = _event(pipeline, "OrderCreated", order_id)
    for _ in range(2):  # and a redelivery
        validate_order_stock(writer, reader, created["event_id"], created)
    between()
    if validated := _event(pipeline, "StockValidated", order_id):
        for _ in range(2):
            update_inventory(writer, validated["event_id"], validated)


def _by_bare(bare, conns, pipeline, order_id: str, between=lambda: None) -> None:
    for _ in range(2):
        bare.validate(conns, "OrderCreated", _event(pipeline, "OrderCreated", order_id))
    between()
    if validated := _event(pipeline, "StockValidated", order_id):
        for _ in range(2):
            bare.deduct(conns, "StockValidated", validated)


def _effects(pipeline, order_id: str, products: list[str]) -> dict:
    """What handling left behind, with the ids that differ between twins written as names."""
    names = {pid: f"product-{i}" for i, pid in enumerate(products)}
    names |= {pipeline.query("SELECT sku FROM products WHERE id = %s", (pid,))[0]["sku"]:
              f"sku-{i}" for i, pid in enumerate(products)}

    def anonymous(text):
        return None if text is None else re.sub(
            "|".join(map(re.escape, names)), lambda m: names[m.group(0)], text)

    events = [r for r in pipeline.outbox() if r["detail"].get("order_id") == order_id]
    return {
        "order": {k: anonymous(v) for k, v in pipeline.order(order_id).items()
                  if k in ("status", "rejection_reason")},
        "history": pipeline.history(order_id),
        "events": [(r["event_type"], r["source"], sorted(r["detail"]),
                    anonymous(str(sorted((k, v) for k, v in r["detail"].items()
                                         if k in ("lines", "details", "reason")))))
                   for r in events],
        "claims": [r["consumer"] for r in pipeline.query(
            "SELECT p.consumer FROM processed_events p JOIN outbox o ON o.event_id = p.event_id"
            " WHERE o.detail->>'order_id' = %s ORDER BY p.consumer", (order_id,))],
        "stock": [pipeline.stock(p) for p in products],
    }


SCENARIOS = {
    # name: (stock of each product, quantity of each line, stock set between the two steps)
    "one line, confirmed": ([5], [2], None),
    "two lines, confirmed": ([10, 4], [3, 4], None),
    "short at validation, rejected": ([1], [3], None),
    "sold meanwhile, rejected with no line deducted": ([10, 5], [2, 5], [10, 4]),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_bare_consumer_leaves_what_the_worker_leaves(pipeline, bare, conns, scenario):
    stocks, quantities, meanwhile = SCENARIOS[scenario]
    effects = []
    for run in (_by_project, lambda *a, **k: _by_bare(bare, conns, *a, **k)):
        products = [pipeline.add_product(stock=s) for s in stocks]
        order_id = pipeline.place_order(list(zip(products, quantities, strict=True)))

        def sell(products=products):
            for product, left in zip(products, meanwhile or [], strict=False):
                pipeline.query("UPDATE products SET stock = %s WHERE id = %s", (left, product))

        run(pipeline, order_id, between=sell)
        effects.append(_effects(pipeline, order_id, products))
    assert effects[1] == effects[0]
    assert effects[0]["history"][-1] in ("CONFIRMED", "REJECTED")


def test_the_bare_eviction_is_the_workers(bare, cache_server):
    client = cache_server.client()
    cache = cache_adapter.connect(cache_server.url)
    evict = client.register_script(bare._EVICT)

    def updated(product_id: str, sku: str) -> dict:
        for ref in (ProductRef(product_id=uuid.UUID(product_id)), ProductRef(sku=sku)):
            client.set(pc.product_key(ref), b"cached")
        return {"order_id": str(uuid.uuid4()), "event_id": str(uuid.uuid4()),
                "occurred_at": datetime.now(UTC).isoformat(),
                "lines": [{"product_id": product_id, "sku": sku, "quantity": 1,
                           "unit_price_cents": 100}]}

    def left(product_id: str, sku: str) -> tuple:
        ttl = client.pttl(pc.changed_marker(product_id))
        return (client.exists(pc.product_key(ProductRef(product_id=uuid.UUID(product_id)))),
                client.exists(pc.product_key(ProductRef(sku=sku))),
                0 < ttl <= pc.CHANGED_WINDOW_MS)

    generations = [int(client.get(pc.LIST_GENERATION) or 0)]
    a, b = (str(uuid.uuid4()), f"SKU-{uuid.uuid4().hex[:8]}"), \
        (str(uuid.uuid4()), f"SKU-{uuid.uuid4().hex[:8]}")
    pc.evict_for_event(cache, "InventoryUpdated", updated(*a))
    generations.append(int(client.get(pc.LIST_GENERATION)))
    bare.evict({"evict": evict}, "InventoryUpdated", updated(*b))
    generations.append(int(client.get(pc.LIST_GENERATION)))
    cache.close()

    assert left(*a) == left(*b) == (0, 0, True)
    assert client.pttl(pc.LIST_CHANGED) > 0
    assert generations[2] - generations[1] == generations[1] - generations[0] == 1
