"""Every process's /metrics moves as orders flow: a run of orders, scraped before and after.

Real processes: the write API under gunicorn with two workers (so a scrape, which reaches
one of them, must still count both), the relay and the worker on their health ports.
"""

from __future__ import annotations

import pytest
import requests

from order_platform import telemetry as t
from tests.e2e.pipeline.conftest import wait_status
from tests.integration.pipeline.harness import wait_until
from tests.support.scrape import delta, scrape, value

pytestmark = pytest.mark.e2e

API_WORKERS, POOL_MAX = 2, 5


def _post_order(api: str, headers: dict[str, str], product_id: str, quantity: int) -> str:
    response = requests.post(f"{api}/orders", timeout=30, headers=headers, json={
        "items": [{"product_id": product_id, "quantity": quantity}]})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def test_each_metric_moves_as_orders_are_placed_published_and_settled(pipeline, services):
    plenty, scarce = pipeline.add_product(stock=10), pipeline.add_product(stock=1)
    api = services.write_api(WEB_CONCURRENCY=str(API_WORKERS), DB_POOL_MAX=str(POOL_MAX))
    relay = f"http://127.0.0.1:{services.relay().port}"
    worker = f"http://127.0.0.1:{services.worker().port}"
    before = {name: scrape(url) for name, url in
              (("api", api), ("relay", relay), ("worker", worker))}

    customer = pipeline.bearer("metrics")
    confirmed = [_post_order(api, customer, plenty, 1) for _ in range(4)]
    rejected = [_post_order(api, customer, scarce, 5) for _ in range(2)]
    bad = requests.post(f"{api}/orders", json={"items": []}, headers=customer, timeout=30)
    assert bad.status_code == 422
    for order_id in confirmed + rejected:
        wait_status(pipeline, order_id, {"CONFIRMED", "REJECTED"})
    assert {pipeline.order(o)["status"] for o in confirmed} == {"CONFIRMED"}
    assert {pipeline.order(o)["status"] for o in rejected} == {"REJECTED"}
    # The relay publishes the last InventoryUpdated after the order is final; its backlog
    # gauge is sampled every second.
    wait_until(lambda: value(scrape(relay), t.OUTBOX_PUBLISHED.name,
                             event_type="InventoryUpdated") >= 4
               and value(scrape(relay), t.OUTBOX_BACKLOG.name) == 0,
               timeout=30, what="the relay to publish everything")
    after = {name: scrape(url) for name, url in
             (("api", api), ("relay", relay), ("worker", worker))}

    # The write API: every request by route template and status, from both workers.
    a0, a1 = before["api"], after["api"]
    requests_total = f"{t.HTTP_REQUESTS.name.removesuffix('_total')}_total"
    assert delta(a0, a1, requests_total, route="/orders", method="POST", status="202") == 6
    assert delta(a0, a1, requests_total, route="/orders", method="POST", status="422") == 1
    assert delta(a0, a1, f"{t.HTTP_DURATION.name}_count", route="/orders", method="POST") == 7
    assert delta(a0, a1, f"{t.HTTP_DURATION.name}_sum", route="/orders", method="POST") > 0
    assert value(a1, t.HTTP_IN_FLIGHT.name) == 0
    # Each worker process reports its pool's bound; the pod's figure is their sum.
    assert value(a1, t.DB_POOL_SIZE.name, endpoint="writer") == API_WORKERS * POOL_MAX
    assert value(a1, t.DB_POOL_IN_USE.name, endpoint="writer") == 0
    assert delta(a0, a1, f"{t.DB_POOL_WAIT.name}_count", endpoint="writer") >= 6

    # The relay: events by type, nothing failed, nothing waiting.
    r0, r1 = before["relay"], after["relay"]
    published = {kind: delta(r0, r1, t.OUTBOX_PUBLISHED.name, event_type=kind)
                 for kind in ("OrderCreated", "StockValidated", "OrderRejected",
                              "InventoryUpdated")}
    assert published == {"OrderCreated": 6, "StockValidated": 4, "OrderRejected": 2,
                         "InventoryUpdated": 4}
    assert delta(r0, r1, t.OUTBOX_FAILED.name) == 0
    assert value(r1, t.OUTBOX_BACKLOG.name) == 0
    assert value(r1, t.OUTBOX_OLDEST_AGE.name) == 0
    assert value(r1, t.OUTBOX_PARKED.name) == 0

    # The worker: received and handled per queue by outcome, lag and settle times.
    w0, w1 = before["worker"], after["worker"]
    handled = t.MESSAGES_HANDLED.name
    assert delta(w0, w1, t.MESSAGES_RECEIVED.name, queue="stock-validation") >= 6
    assert delta(w0, w1, handled, queue="stock-validation", outcome="stock_validated") == 4
    assert delta(w0, w1, handled, queue="stock-validation", outcome="rejected") == 2
    assert delta(w0, w1, handled, queue="inventory-update", outcome="confirmed") == 4
    assert delta(w0, w1, handled, outcome="failed") == 0
    assert delta(w0, w1, f"{t.HANDLER_DURATION.name}_count", queue="stock-validation") == 6
    assert delta(w0, w1, f"{t.MESSAGE_AGE.name}_count", queue="inventory-update") == 4
    assert delta(w0, w1, f"{t.MESSAGE_AGE.name}_sum", queue="inventory-update") > 0
    assert delta(w0, w1, f"{t.ORDER_SETTLE.name}_count", status="CONFIRMED") == 4
    assert delta(w0, w1, f"{t.ORDER_SETTLE.name}_count", status="REJECTED") == 2
    assert delta(w0, w1, f"{t.ORDER_SETTLE.name}_sum", status="CONFIRMED") > 0
    assert value(w1, t.DEPENDENCY_PAUSED.name) == 0

    # A redelivered event is counted as what it is.
    pipeline.sqs().send_message(QueueUrl=pipeline.queue_url(_validation_queue()),
                                MessageBody=pipeline.envelope(pipeline.outbox("OrderCreated")[0]))
    wait_until(lambda: delta(w1, scrape(worker), handled, queue="stock-validation",
                             outcome="duplicate") == 1, timeout=30, what="a duplicate counted")


def _validation_queue():
    from order_platform.topology import STOCK_VALIDATION_QUEUE

    return STOCK_VALIDATION_QUEUE
