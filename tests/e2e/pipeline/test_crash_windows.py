"""Processes killed inside the at-least-once windows lose nothing and apply nothing twice.

The kill is injected by the test launcher (``tests.support.crash_at``) through the worker's
and relay's callbacks: the process calls os._exit at the named line, like a SIGKILL there.
"""

from __future__ import annotations

import pytest

from order_platform import topology
from order_platform.service_layer import stock
from tests.e2e.pipeline.conftest import log_records, wait_exit, wait_status
from tests.integration.pipeline.harness import wait_until
from tests.support.crash_at import CRASH_EXIT_CODE

pytestmark = pytest.mark.e2e


def test_worker_killed_after_commit_before_delete(pipeline, services):
    # A redelivery after the crash comes when the visibility timeout runs out: keep it short.
    pipeline.set_visibility_timeout(2)
    product = pipeline.add_product(stock=10)
    order_id = pipeline.place_order([(product, 4)])
    services.relay()

    doomed = services.worker(wait_ready=False, crash_at="worker.after_commit")
    assert wait_exit(doomed) == CRASH_EXIT_CODE
    # Committed, not acknowledged: the effect is there and the message is still queued.
    assert pipeline.order(order_id)["status"] == "STOCK_VALIDATED"
    queue = pipeline.queue_url(topology.STOCK_VALIDATION_QUEUE)
    assert sum(pipeline.depth(queue)) == 1

    survivor = services.worker()
    wait_status(pipeline, order_id, {"CONFIRMED", "REJECTED"})
    wait_until(lambda: sum(pipeline.depth(queue)) == 0, timeout=30, what="redelivery deleted")

    _confirmed_once(pipeline, order_id, product)
    assert len(pipeline.outbox("StockValidated")) == 1
    created_event = str(pipeline.outbox("OrderCreated")[0]["event_id"])
    assert pipeline.processed(stock.VALIDATION_CONSUMER) == [created_event]
    # The redelivery reached the new worker and was deduped.
    outcomes = [(r["event_id"], r["outcome"]) for r in log_records(survivor)
                if r.get("message") == "event handled"]
    assert (created_event, "DUPLICATE") in outcomes


def test_relay_killed_after_put_events_before_marking(pipeline, services):
    product = pipeline.add_product(stock=10)
    order_id = pipeline.place_order([(product, 4)])
    queue = pipeline.queue_url(topology.STOCK_VALIDATION_QUEUE)

    doomed = services.relay(wait_ready=False, crash_at="relay.after_publish")
    assert wait_exit(doomed) == CRASH_EXIT_CODE
    # EventBridge accepted it, but the row was never marked.
    assert pipeline.outbox("OrderCreated")[0]["published_at"] is None
    assert sum(pipeline.depth(queue)) == 1

    services.relay()
    # The restarted relay sends the row again: two deliveries of one event.
    wait_until(lambda: pipeline.outbox("OrderCreated")[0]["published_at"], timeout=30,
               what="row marked published")
    wait_until(lambda: pipeline.depth(queue)[0] == 2, timeout=30, what="second copy queued")
    worker = services.worker()
    wait_status(pipeline, order_id, {"CONFIRMED", "REJECTED"})
    wait_until(lambda: sum(pipeline.depth(queue)) == 0, timeout=30, what="both copies deleted")

    _confirmed_once(pipeline, order_id, product)
    created_event = str(pipeline.outbox("OrderCreated")[0]["event_id"])
    handled = [r for r in log_records(worker) if r.get("message") == "event handled"
               and r["event_id"] == created_event]
    assert sorted(r["outcome"] for r in handled) == ["DUPLICATE", "STOCK_VALIDATED"]
    assert pipeline.processed(stock.VALIDATION_CONSUMER) == [created_event]


def _confirmed_once(pipeline, order_id: str, product: str) -> None:
    """The order went through once: CONFIRMED, its 4 units taken from 10, each status once."""
    assert pipeline.order(order_id)["status"] == "CONFIRMED"
    assert pipeline.stock(product) == 6
    assert pipeline.history(order_id) == ["PENDING", "STOCK_VALIDATED", "CONFIRMED"]
