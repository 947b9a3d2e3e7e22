"""Every error is JSON in one shape, with the right status, and no client input yields a 500."""

from __future__ import annotations

import io
import json
import uuid

import pytest

from tests.integration.api.conftest import random_sku

KIB = 1024


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The response is ``status`` with {"error": {"code", "message", "details"}}."""
    assert response.status_code == status, (response.status_code, response.get_data()[:500])
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert set(error) == {"code", "message", "details"}
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    if code is not None:
        assert error["code"] == code
    return error


@pytest.mark.parametrize("path", ["/orders", "/products", "/products/SKU-1/stock"])
def test_malformed_json_is_400(write_client, path):
    for raw in (b"{", b"", b"{'single': 'quotes'}", b"\xff\xfe\x00", b"[" * 5000,
                b'{"n": ' + b"9" * 5000 + b"}", b'{"a": 1} trailing'):
        response = write_client.post(path, data=raw, content_type="application/json")
        assert_error(response, 400, "malformed_json")


@pytest.mark.parametrize("path", ["/orders", "/products", "/products/SKU-1/stock"])
def test_json_that_is_not_utf8_is_400(write_client, path):
    """JSON on the wire is UTF-8 without a byte-order mark (RFC 8259, section 8.1)."""
    body = json.dumps({"items": [{"sku": "SKU-1", "quantity": 1}]})
    for raw in (body.encode("utf-16"), body.encode("utf-32"), b"\xef\xbb\xbf" + body.encode()):
        response = write_client.post(path, data=raw, content_type="application/json")
        assert_error(response, 400, "malformed_json")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml",
                                          "application/jsonx", "json"])
def test_a_body_that_is_not_json_is_415(write_client, content_type):
    response = write_client.post("/orders", data=b'{"items": []}',
                                 content_type=content_type)
    assert_error(response, 415, "unsupported_media_type")


def test_json_with_a_charset_or_a_vendor_suffix_is_json(write_client, make_product):
    product = make_product()
    body = json.dumps({"items": [{"sku": product["sku"], "quantity": 1}]})
    for content_type in ("application/json; charset=utf-8", "application/vnd.orders+json"):
        assert write_client.post("/orders", data=body,
                                 content_type=content_type).status_code == 202


def test_a_body_over_64_kib_is_413(write_client):
    body = json.dumps({"note": "c" * (64 * KIB), "items": []})
    response = write_client.post("/orders", data=body, content_type="application/json")
    assert_error(response, 413, "payload_too_large")


def _chunked(client, body: bytes):
    """POST ``body`` without Content-Length, the way gunicorn hands a chunked request over."""
    return client.post("/orders", input_stream=io.BytesIO(body),
                       headers={"Content-Type": "application/json",
                                "Transfer-Encoding": "chunked"},
                       environ_overrides={"wsgi.input_terminated": True})


@pytest.mark.parametrize("padding", [64 * KIB, 64 * KIB - 7])
def test_a_chunked_body_over_64_kib_is_413_not_cut_short(write_client, padding):
    # Without a Content-Length, werkzeug stops reading at the limit and says nothing:
    # the first 64 KiB of this body are a complete, valid JSON document.
    body = b'{"note": "c", "items": []}' + b" " * padding
    assert len(body) > 64 * KIB
    assert_error(_chunked(write_client, body), 413, "payload_too_large")


def test_a_chunked_body_of_exactly_64_kib_is_read(write_client):
    head = b'{"note": "c", "items": []}'
    body = head + b" " * (64 * KIB - len(head))
    assert_error(_chunked(write_client, body), 422, "validation_failed")


def test_a_body_just_under_64_kib_is_read(write_client):
    body = json.dumps({"note": "c" * (63 * KIB), "items": []})
    response = write_client.post("/orders", data=body, content_type="application/json")
    assert_error(response, 422, "validation_failed")


def test_invalid_bodies_are_422_with_field_details(write_client):
    response = write_client.post("/orders", json={"customer_id": "", "items": [
        {"sku": "A", "product_id": str(uuid.uuid4()), "quantity": 1}, {"quantity": 0}],
        "extra": 1})
    details = assert_error(response, 422, "validation_failed")["details"]["json"]
    assert set(details) == {"customer_id", "items", "extra"}
    assert set(details["items"]) == {"0", "1"}


def test_unknown_routes_are_404_and_wrong_methods_405(write_client, read_client):
    assert_error(write_client.get("/nowhere"), 404, "not_found")
    assert_error(read_client.get("/orders/x/y"), 404, "not_found")
    response = write_client.delete("/orders")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]
    assert_error(read_client.post("/orders", json={}), 405, "method_not_allowed")
    assert_error(write_client.get("/orders"), 405, "method_not_allowed")


# --- the garbage battery ------------------------------------------------------------------

GARBAGE_VALUES = [
    None, True, False, 0, -1, 1.5, -0.0, 2**31, 2**31 - 1, -(2**31) - 1, 2**63, 2**64, 10**30,
    -(10**30), "", " ", "x" * 10_000, "\x00", "a\x00b", "\ud800", "\udfff x", "😀", "\u202eRTL",
    "Ω≈ç√", "\n", "\t", "'; DROP TABLE orders; --", "%s", "{}", "1", "true",
    [], [None], [1, 2], {}, {"$gt": ""}, str(uuid.uuid4()), "00000000-0000-0000-0000-000000000000",
]
# Texts that are valid for Python's json but not representable by the values above.
GARBAGE_LITERALS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" * 4000, "1E2",
                    "0.0000001", "[" * 30 + "]" * 30]
PLACEHOLDER = "__garbage__"


def _mutations(base: dict):
    """Every body with one field (top level or inside the first list item) replaced or removed."""
    def spots(body, path=()):
        for key, value in body.items():
            yield (*path, key)
            if isinstance(value, list) and value and isinstance(value[0], dict):
                yield from spots(value[0], (*path, key, 0))

    for spot in list(spots(base)):
        for value in [*GARBAGE_VALUES, PLACEHOLDER, "__delete__"]:
            for literal in (GARBAGE_LITERALS if value == PLACEHOLDER else [None]):
                body = json.loads(json.dumps(base))
                target = body
                for step in spot[:-1]:
                    target = target[step]
                if value == "__delete__":
                    del target[spot[-1]]
                else:
                    target[spot[-1]] = value
                text = json.dumps(body)
                if literal is not None:
                    text = text.replace(f'"{PLACEHOLDER}"', literal)
                yield spot, text


def _order_bodies(product: dict):
    base = {"items": [{"sku": product["sku"], "quantity": 1}]}
    yield from (text for _, text in _mutations(base))
    by_id = {"items": [{"product_id": product["id"], "quantity": 1}]}
    yield from (text for _, text in _mutations(by_id))
    for items in ([], [{}], [None], ["x"], [[]], [{"sku": product["sku"], "quantity": 1}] * 2,
                  [{"sku": product["sku"], "quantity": 1}] * 101,
                  [{"sku": product["sku"], "product_id": product["id"], "quantity": 1}],
                  [{"sku": random_sku(), "quantity": 1}], [{"quantity": 1}]):
        yield json.dumps({"items": items})
    yield from ("null", "[]", '"text"', "123", "true", "{}", json.dumps([{"items": []}]))


def _product_bodies():
    base = {"sku": random_sku("G"), "name": "garbage", "price_cents": 1, "stock": 1}
    yield from (text for _, text in _mutations(base))
    yield from ("null", "[]", "{}", '"x"')


def _restock_bodies():
    yield from (text for _, text in _mutations({"mode": "add", "quantity": 1}))
    yield from (text for _, text in _mutations({"mode": "set", "quantity": 1}))
    yield from ("null", "[]", "{}")


GARBAGE_PATH_SEGMENTS = [
    "x", "%00", "a%00b", "%ff%fe", "%ED%A0%80", "😀", "..", "%2e%2e", "' OR 1=1 --", "9" * 5000,
    "-1", "0", str(uuid.uuid4()), str(uuid.uuid4()).upper(), "{" + str(uuid.uuid4()) + "}",
    uuid.uuid4().hex, "%20", "a b", "SKU%0A", "x" * 300,
]
GARBAGE_QUERIES = [
    "limit=0", "limit=-5", "limit=101", "limit=1.5", "limit=1e2", "limit=" + "9" * 5000,
    "limit=%00", "limit=", "limit=NaN", "limit=true", "limit=1&limit=1000", "status=%00",
    "status=pending", "status=" + "X" * 1000, "customer_id=%00", "customer_id=%ff",
    "customer_id=%ED%A0%80", "customer_id=" + "c" * 5000, "customer_id=", "cursor=%00",
    "cursor=" + "A" * 10_000, "cursor=eyJrIjoib3JkZXJzIn0", "cursor=e30", "cursor=W10",
    "cursor=bnVsbA", "cursor=%ff", "cursor=====",
    "cursor=eyJrIjoib3JkZXJzIiwiYSI6MWUxMDAwLCJzIjoiMCJ9",
    "unknown=1", "&&&", "=", "%",
]


def _route_paths(app) -> list[tuple[str, set[str]]]:
    rules = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith(("openapi.", "docs_assets.")):
            # the docs page, its static assets and the spec
            continue
        rules.append((rule.rule, set(rule.methods) - {"HEAD", "OPTIONS"}))
    return rules


def _never_500(response, context: str) -> None:
    assert response.status_code < 500, (context[:300], response.status_code,
                                        response.get_data()[:300])
    if response.status_code >= 400:
        assert set(response.json["error"]) == {"code", "message", "details"}, context[:300]


def test_no_garbage_yields_a_500_on_any_write_endpoint(write_app, write_client, make_product):
    product = make_product(stock=1000)
    rules = dict(_route_paths(write_app))
    bodies = {
        "/orders": list(_order_bodies(product)),
        "/products": list(_product_bodies()),
        "/products/<ref>/stock": list(_restock_bodies()),
    }
    assert set(rules) - {"/healthz", "/readyz"} == set(bodies), "a write route has no battery"
    sent = 0
    for rule, texts in bodies.items():
        paths = [rule.replace("<ref>", seg) for seg in
                 [product["sku"], product["id"], *GARBAGE_PATH_SEGMENTS]] if "<" in rule else [rule]
        for path in paths:
            for text in texts if path in (rule, rule.replace("<ref>", product["sku"])) else [
                    '{"mode": "add", "quantity": 1}']:
                for headers in ({}, {"Idempotency-Key": str(uuid.uuid4())}):
                    response = write_client.post(path, data=text, headers=headers,
                                                 content_type="application/json")
                    _never_500(response, f"POST {path} {text}")
                    sent += 1
            for method in ("GET", "PUT", "PATCH", "DELETE"):
                _never_500(write_client.open(path, method=method), f"{method} {path}")
    for key in ("", " ", "x" * 256, "\x7f", "é", "a\tb"):
        response = write_client.post("/orders", data=bodies["/orders"][0],
                                     content_type="application/json",
                                     headers={"Idempotency-Key": key.encode().decode("latin-1")})
        _never_500(response, f"Idempotency-Key {key!r}")
    assert sent > 500


def test_no_garbage_yields_a_500_on_any_read_endpoint(read_app, read_client, make_product):
    product = make_product()
    rules = _route_paths(read_app)
    assert {r for r, _ in rules} == {"/healthz", "/readyz", "/orders", "/orders/<uuid:order_id>",
                                     "/products", "/products/<ref>"}, "a read route has no battery"
    for rule, _ in rules:
        if "<" in rule:
            paths = [rule.replace("<uuid:order_id>", s).replace("<ref>", s)
                     for s in [product["sku"], product["id"], *GARBAGE_PATH_SEGMENTS]]
        else:
            paths = [rule]
        for path in paths:
            for query in GARBAGE_QUERIES:
                _never_500(read_client.get(f"{path}?{query}"), f"GET {path}?{query}")
            for method in ("POST", "PUT", "PATCH", "DELETE"):
                _never_500(read_client.open(path, method=method, data=b"\x00garbage",
                                            content_type="text/plain"), f"{method} {path}")
