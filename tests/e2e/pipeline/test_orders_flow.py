"""POST /orders through write API, relay, bus, queues and worker processes to the end state."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from order_platform import topology
from order_platform.service_layer import stock
from tests.e2e.pipeline.conftest import log_records, wait_status
from tests.integration.pipeline.harness import wait_until

pytestmark = pytest.mark.e2e


def _post_order(pipeline, api: str, product_id: str, quantity: int,
                customer: str = "alice") -> str:
    resp = requests.post(f"{api}/orders", timeout=30, headers=pipeline.bearer(customer), json={
        "items": [{"product_id": product_id, "quantity": quantity}]})
    assert resp.status_code == 202, resp.text
    return resp.json()["id"]


def test_happy_path_reaches_confirmed_with_stock_deducted_once(pipeline, services):
    product = pipeline.add_product(stock=10)
    api = services.write_api()
    services.relay()
    worker = services.worker()

    order_id = _post_order(pipeline, api, product, 3)

    wait_status(pipeline, order_id, {"CONFIRMED", "REJECTED"})
    assert pipeline.order(order_id)["status"] == "CONFIRMED"
    assert pipeline.stock(product) == 7
    assert pipeline.history(order_id) == ["PENDING", "STOCK_VALIDATED", "CONFIRMED"]
    assert len(pipeline.processed(stock.VALIDATION_CONSUMER)) == 1
    assert len(pipeline.processed(stock.INVENTORY_CONSUMER)) == 1
    wait_until(lambda: all(r["published_at"] for r in pipeline.outbox()), timeout=30,
               what="InventoryUpdated published")
    assert [r["event_type"] for r in pipeline.outbox()] == [
        "OrderCreated", "StockValidated", "InventoryUpdated"]
    # Structured logs carry the order id and the event id of each handled message.
    handled = [r for r in log_records(worker) if r.get("message") == "event handled"
               and r["consumer"] != topology.PRODUCT_CACHE_QUEUE.consumer]
    assert {(r["order_id"], r["consumer"], r["outcome"]) for r in handled} == {
        (order_id, "stock-validation", "STOCK_VALIDATED"),
        (order_id, "inventory-update", "CONFIRMED")}
    assert {r["event_id"] for r in handled} == {
        str(r["event_id"]) for r in pipeline.outbox() if r["event_type"] != "InventoryUpdated"}


def test_insufficient_stock_ends_rejected_with_the_reason_and_no_stock_moves(pipeline,
                                                                              services):
    product = pipeline.add_product(stock=2)
    api = services.write_api()
    services.relay()
    services.worker()

    order_id = _post_order(pipeline, api, product, 5)

    order = wait_status(pipeline, order_id, {"CONFIRMED", "REJECTED"})
    assert order["status"] == "REJECTED"
    assert order["rejection_reason"].startswith("insufficient_stock:")
    assert "requested 5, available 2" in order["rejection_reason"]
    assert pipeline.stock(product) == 2
    assert pipeline.history(order_id) == ["PENDING", "REJECTED"]
    assert [r["event_type"] for r in pipeline.outbox()] == ["OrderCreated", "OrderRejected"]


def test_many_more_concurrent_orders_than_stock_sell_exactly_the_stock(pipeline, services):
    units, orders = 7, 40
    product = pipeline.add_product(stock=units)
    api = services.write_api()
    services.relay()
    for _ in range(2):
        services.worker(WORKER_CONCURRENCY="4")

    with ThreadPoolExecutor(max_workers=16) as pool:
        order_ids = list(pool.map(lambda i: _post_order(pipeline, api, product, 1, f"c{i}"),
                                  range(orders)))

    final = {oid: wait_status(pipeline, oid, {"CONFIRMED", "REJECTED"}, timeout=120)["status"]
             for oid in order_ids}
    assert list(final.values()).count("CONFIRMED") == units
    assert list(final.values()).count("REJECTED") == orders - units
    assert pipeline.stock(product) == 0
    sold = pipeline.query(
        "SELECT coalesce(sum(l.quantity), 0) AS n FROM order_lines l JOIN orders o "
        "ON o.id = l.order_id WHERE o.status = 'CONFIRMED'")[0]["n"]
    assert sold == units
    for oid, status in final.items():
        history = pipeline.history(oid)
        assert history[0] == "PENDING" and history[-1] == status
        assert len(history) == len(set(history)), f"a transition was applied twice: {history}"
