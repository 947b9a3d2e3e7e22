"""One order, one trace: the write API's request, the relay's publishes, the worker's handling
and the client's reads of the order share a trace id, carried by the outbox row and the event
across bus and queues, and back to the client in ``traceresponse``."""

from __future__ import annotations

import json
import logging
import uuid

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from order_platform import bootstrap, logs, topology
from order_platform.adapters import tracing
from order_platform.entrypoints.read_api.app import create_app as create_read_app
from order_platform.entrypoints.relay import build_relay
from order_platform.entrypoints.web.access import TRACE_RESPONSE_HEADER
from order_platform.entrypoints.worker.wiring import build_worker
from order_platform.entrypoints.write_api.app import create_app as create_write_app
from order_platform.processes import RELAY, WORKER
from tests.integration.pipeline.harness import wait_until
from tests.support.tokens import bearer, client_with


def _spans_of(exporter: InMemorySpanExporter, order_id: str) -> list:
    return [s for s in exporter.get_finished_spans()
            if s.attributes.get("order_platform.order_id") == order_id]


def test_one_orders_spans_from_every_process_share_one_trace(pipeline):
    exporter = InMemorySpanExporter()
    product = pipeline.add_product(stock=5)
    customer = bearer(pipeline.settings, f"c-{uuid.uuid4().hex[:6]}")
    api = client_with(create_write_app(pipeline.settings, span_exporter=exporter), customer)
    reads = client_with(create_read_app(pipeline.settings, cache=None, span_exporter=exporter),
                        customer)
    relay_runtime = bootstrap.start(RELAY, pipeline.settings, span_exporter=exporter)
    worker_runtime = bootstrap.start(WORKER, pipeline.settings, span_exporter=exporter)
    relay, worker = build_relay(relay_runtime), build_worker(worker_runtime)
    relay.start()
    worker.start()
    try:
        response = api.post("/orders", json={"items": [{"product_id": product, "quantity": 2}]})
        assert response.status_code == 202, response.json
        order_id = response.json["id"]
        wait_until(lambda: pipeline.order(order_id)["status"] == "CONFIRMED", timeout=60,
                   what="the order confirmed")
        # The client polls its order with the trace the write API handed back.
        traced = {"traceparent": response.headers[TRACE_RESPONSE_HEADER]}
        assert wait_until(lambda: reads.get(f"/orders/{order_id}", headers=traced)
                          .json.get("status") == "CONFIRMED", timeout=30,
                          what="the order confirmed on the reader")
        wait_until(lambda: len(_spans_of(exporter, order_id)) >= 7, timeout=30,
                   what="every span of the order finished")
    finally:
        assert worker.shutdown(15)
        assert relay.shutdown(15)
        worker_runtime.close()
        relay_runtime.close()

    spans = _spans_of(exporter, order_id)
    by_service = {}
    for span in spans:
        by_service.setdefault(span.resource.attributes["service.name"], []).append(span.name)
    # The reader may lag: a poll or two may come before the one that saw CONFIRMED.
    by_service["order-platform-read-api"] = sorted(set(by_service["order-platform-read-api"]))
    assert {k: sorted(v) for k, v in by_service.items()} == {
        "order-platform-write-api": ["POST /orders"],
        "order-platform-read-api": ["GET /orders/<uuid:order_id>"],
        "order-platform-relay": ["InventoryUpdated publish", "OrderCreated publish",
                                 "StockValidated publish"],
        "order-platform-worker": sorted(
            f"{route.queue.key} process" for route in topology.ROUTES
            for kind in route.event_types
            if kind.name in ("OrderCreated", "StockValidated", "InventoryUpdated")),
    }
    assert len({span.context.trace_id for span in spans}) == 1
    # Parentage follows the order's path: request -> validation -> deduction.
    by_name = {span.name: span for span in spans}
    request = by_name["POST /orders"]
    validation = by_name["stock-validation process"]
    assert validation.parent.span_id == request.context.span_id
    assert by_name["OrderCreated publish"].parent.span_id == request.context.span_id
    assert by_name["inventory-update process"].parent.span_id == validation.context.span_id
    assert {span.parent.span_id for span in spans if span.name.startswith("GET ")} == {
        request.context.span_id}
    # The context is in the outbox row itself, so a relay started later continues the trace.
    rows = pipeline.outbox("OrderCreated")
    assert rows[-1]["detail"][topology.TRACE_FIELD].split("-")[1] == \
        format(request.context.trace_id, "032x")


def test_log_lines_carry_the_trace_and_span_ids_of_their_span():
    exporter = InMemorySpanExporter()
    traces = tracing.start("write-api", None, exporter=exporter)
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Collect()
    handler.setFormatter(logs.JsonLines())
    handler.addFilter(logs._ContextFilter("write-api"))
    logger = logging.getLogger("test.traces")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with traces.tracer.start_as_current_span("work") as span:
            logger.warning("inside")
        logger.warning("outside")
    finally:
        logger.removeHandler(handler)
        traces.shutdown()
    inside, outside = (json.loads(r) for r in records)
    assert inside["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert inside["span_id"] == format(span.get_span_context().span_id, "016x")
    assert "trace_id" not in outside


def test_without_an_endpoint_nothing_traces():
    assert tracing.start("write-api", None) is None
    assert tracing.start("write-api", "") is None
