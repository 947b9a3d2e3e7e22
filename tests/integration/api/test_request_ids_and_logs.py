"""Every response carries a request id; every access log line carries it and the order id."""

from __future__ import annotations

import logging
import re
import uuid


def _access_records(caplog):
    return [r for r in caplog.records if r.name == "order_platform.access"]


def test_the_callers_request_id_is_echoed_and_logged_with_the_order_id(make_product,
                                                                       write_client, caplog):
    product = make_product()
    caplog.set_level(logging.INFO, logger="order_platform.access")
    response = write_client.post("/orders", headers={"X-Request-ID": "req-abc.123"}, json={
        "items": [{"sku": product["sku"], "quantity": 1}]})
    assert response.headers["X-Request-ID"] == "req-abc.123"
    [record] = _access_records(caplog)
    assert record.request_id == "req-abc.123"
    assert record.order_id == response.json["id"]
    assert (record.method, record.path, record.status) == ("POST", "/orders", 202)
    assert record.duration_ms >= 0


def test_a_request_id_is_generated_when_absent_or_unsafe(read_client, caplog):
    caplog.set_level(logging.INFO, logger="order_platform.access")
    plain = read_client.get("/healthz")
    unsafe = read_client.get("/healthz", headers={"X-Request-ID": "<script>" + "x" * 200})
    for response in (plain, unsafe):
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    assert plain.headers["X-Request-ID"] != unsafe.headers["X-Request-ID"]
    assert [r.request_id for r in _access_records(caplog)] == [
        plain.headers["X-Request-ID"], unsafe.headers["X-Request-ID"]]


def test_errors_carry_the_request_id_too(read_client, caplog):
    caplog.set_level(logging.INFO, logger="order_platform.access")
    response = read_client.get("/orders/5d0c7c3e-8c51-4a43-a0a8-1f1f3d0e2b11",
                               headers={"X-Request-ID": "r-404"})
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "r-404"
    [record] = _access_records(caplog)
    assert (record.request_id, record.order_id, record.status) == (
        "r-404", "5d0c7c3e-8c51-4a43-a0a8-1f1f3d0e2b11", 404)


def test_an_idempotency_conflict_is_logged_with_the_order_the_key_belongs_to(
        make_product, write_client, caplog):
    product = make_product()
    headers = {"Idempotency-Key": f"k-{uuid.uuid4()}", "X-Request-ID": "r-409"}
    first = write_client.post("/orders", headers=headers, json={
        "items": [{"sku": product["sku"], "quantity": 1}]})
    caplog.set_level(logging.INFO, logger="order_platform.access")
    conflict = write_client.post("/orders", headers=headers, json={
        "items": [{"sku": product["sku"], "quantity": 2}]})
    assert conflict.status_code == 409
    [record] = _access_records(caplog)
    assert (record.request_id, record.order_id, record.status) == (
        "r-409", first.json["id"], 409)
