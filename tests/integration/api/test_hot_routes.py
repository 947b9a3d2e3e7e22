"""The hot routes (``entrypoints/web/hot_routes.py``) answer exactly as Flask does.

Each request goes two ways: through the app's hot-route layer, and straight to Flask's own
WSGI callable, which never sees a hot handler. Status, headers (in order) and body must be
the same. Placing an order cannot be repeated, so the POSTs compare Idempotency-Key replays
of one order, and errors, which leave nothing behind.
"""

from __future__ import annotations

import json
import uuid

import pytest
from flask import Flask
from werkzeug.test import Client

from order_platform.adapters import outbox
from order_platform.adapters.deadlines import DeadlineExceeded
from order_platform.entrypoints.web.hot_routes import HotRoute, HotRoutes, exact, uuid_after


def _hot(app) -> HotRoutes:
    layer = app.wsgi_app.app  # RequestLog around the hot routes
    assert isinstance(layer, HotRoutes)
    return layer


def _answer(response) -> tuple:
    return response.status, response.headers.to_wsgi_list(), response.get_data()


def _both(app, method: str, path: str, **request) -> tuple[tuple, tuple]:
    """The same request through the hot routes and through Flask alone."""
    layer = _hot(app)
    return (_answer(Client(layer).open(path, method=method, **request)),
            _answer(Client(layer.flask).open(path, method=method, **request)))


def _order_body(sku: str, quantity: int = 1, customer: str = "cust-hot") -> dict:
    return {"customer_id": customer, "items": [{"sku": sku, "quantity": quantity}]}


def test_a_replayed_order_is_the_same_answer_both_ways(write_app, make_product):
    sku = make_product()["sku"]
    for first in (_hot(write_app), _hot(write_app).flask):  # placed by each way in turn
        key = {"Idempotency-Key": f"hot-{uuid.uuid4()}"}
        placed = Client(first).post("/orders", json=_order_body(sku), headers=key)
        assert placed.status_code == 202, placed.get_data()
        hot, flask = _both(write_app, "POST", "/orders", json=_order_body(sku), headers=key)
        assert hot == flask
        assert ("Idempotent-Replayed", "true") in hot[1]
        assert json.loads(hot[2]) == placed.json


def test_a_new_order_has_the_same_shape_both_ways(write_app, make_product):
    sku = make_product()["sku"]
    hot, flask = _both(write_app, "POST", "/orders", json=_order_body(sku))
    assert hot[0] == flask[0] == "202 ACCEPTED"
    assert [name for name, _ in hot[1]] == [name for name, _ in flask[1]] \
        == ["Content-Type", "Content-Length", "Location"]
    hot_body, flask_body = json.loads(hot[2]), json.loads(flask[2])
    assert hot_body.keys() == flask_body.keys()
    assert hot_body["id"] != flask_body["id"]
    assert dict(hot[1])["Location"].endswith(f"/orders/{hot_body['id']}")


# Each body either fails before any work (and the hot layer hands it to Flask) or fails in
# the work (and Flask's error handlers answer): both must be Flask's answer.
_BAD_ORDERS = {
    "unknown product": (_order_body("NOPE-HOT-1"), {}),
    "duplicate lines": ({"customer_id": "c", "items": [{"sku": "A-1", "quantity": 1},
                                                        {"sku": "A-1", "quantity": 2}]}, {}),
    "zero quantity": (_order_body("A-1", quantity=0), {}),
    "extra field": ({**_order_body("A-1"), "note": "x"}, {}),
    "no items": ({"customer_id": "c", "items": []}, {}),
    "key not printable": (_order_body("A-1"), {"Idempotency-Key": "a b"}),
    "key too long": (_order_body("A-1"), {"Idempotency-Key": "k" * 256}),
}


@pytest.mark.parametrize("case", sorted(_BAD_ORDERS))
def test_a_refused_order_is_the_same_answer_both_ways(write_app, case):
    body, headers = _BAD_ORDERS[case]
    hot, flask = _both(write_app, "POST", "/orders", json=body, headers=headers)
    assert hot == flask
    assert hot[0].startswith("422"), hot


@pytest.mark.parametrize(("data", "content_type", "status"), [
    (b'{"customer_id": ', "application/json", "400"),
    (b'\xff\xfe{}', "application/json", "400"),
    (b"{}", "text/plain", "415"),
    (b" " * (64 * 1024 + 1), "application/json", "413"),
])
def test_a_body_that_is_not_plain_json_is_the_same_answer_both_ways(write_app, data,
                                                                     content_type, status):
    hot, flask = _both(write_app, "POST", "/orders", data=data, content_type=content_type)
    assert hot == flask
    assert hot[0].startswith(status), hot


def test_a_reused_key_with_another_body_is_the_same_conflict_both_ways(write_app, write_client,
                                                                        make_product):
    sku = make_product()["sku"]
    key = {"Idempotency-Key": f"hot-{uuid.uuid4()}"}
    assert write_client.post("/orders", json=_order_body(sku), headers=key).status_code == 202
    hot, flask = _both(write_app, "POST", "/orders", json=_order_body(sku, quantity=2),
                       headers=key)
    assert hot == flask
    assert hot[0].startswith("409")


@pytest.mark.parametrize(("failure", "status"), [
    (RuntimeError("the outbox fell over"), "500"),
    (DeadlineExceeded("the database did not answer within 2s"), "503"),
])
def test_a_failure_inside_the_work_is_flasks_answer_both_ways(write_app, make_product,
                                                              monkeypatch, failure, status):
    sku = make_product()["sku"]

    def failing_add_event(cur, event_type, detail):
        raise failure

    monkeypatch.setattr(outbox, "add_event", failing_add_event)
    hot, flask = _both(write_app, "POST", "/orders", json=_order_body(sku))
    assert hot == flask
    assert hot[0].startswith(status), hot


def test_an_order_read_is_the_same_answer_both_ways(read_app, place_order, make_product):
    placed = place_order([{"sku": make_product()["sku"], "quantity": 2}]).json
    for path in (f"/orders/{placed['id']}", f"/orders/{placed['id'].upper()}",
                 f"/orders/{placed['id']}?fields=all", f"/orders/{uuid.uuid4()}",
                 f"/orders/{placed['id']}/", "/orders/not-a-uuid"):
        hot, flask = _both(read_app, "GET", path)
        assert hot == flask, path
    hot, _ = _both(read_app, "GET", f"/orders/{placed['id']}")
    assert hot[0] == "200 OK" and json.loads(hot[2])["id"] == placed["id"]


def _reaches_flask(app, monkeypatch, method: str, path: str, **request) -> bool:
    layer = _hot(app)
    reached, flask = [], layer.flask

    def recorded(environ, start_response):
        reached.append(environ["PATH_INFO"])
        return flask(environ, start_response)

    monkeypatch.setattr(layer, "flask", recorded)
    response = Client(layer).open(path, method=method, **request)
    assert response.status_code < 500, response.get_data()
    return bool(reached)


def test_plain_requests_are_answered_without_flask_and_the_rest_with_it(
        write_app, read_app, make_product, monkeypatch):
    sku = make_product()["sku"]
    plain = {"json": _order_body(sku)}
    assert not _reaches_flask(write_app, monkeypatch, "POST", "/orders", **plain)
    assert not _reaches_flask(write_app, monkeypatch, "POST", "/orders",
                              headers={"Idempotency-Key": "hot-plain"}, **plain)
    placed = Client(_hot(write_app)).post("/orders", **plain).json
    assert not _reaches_flask(read_app, monkeypatch, "GET", f"/orders/{placed['id']}")
    assert not _reaches_flask(read_app, monkeypatch, "GET", f"/orders/{uuid.uuid4()}")  # 404

    for request in ({"json": _order_body(sku, quantity=0)},
                    {"data": json.dumps(_order_body(sku)),
                     "content_type": "application/json; charset=utf-8"},
                    {"data": b"{}", "content_type": "text/plain"},
                    {**plain, "headers": {"Idempotency-Key": "a b"}}):
        assert _reaches_flask(write_app, monkeypatch, "POST", "/orders", **request), request
    assert _reaches_flask(write_app, monkeypatch, "POST", "/products", json={})
    assert _reaches_flask(read_app, monkeypatch, "GET", f"/orders/{placed['id'].upper()}")
    assert _reaches_flask(read_app, monkeypatch, "HEAD", f"/orders/{placed['id']}")


def test_a_websocket_upgrade_is_flasks_to_refuse(write_app, read_app, make_product, monkeypatch):
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket"}
    sku = make_product()["sku"]
    hot, flask = _both(write_app, "POST", "/orders", json=_order_body(sku), headers=upgrade)
    assert hot == flask
    assert hot[0].startswith("400"), hot  # werkzeug matched no websocket rule: nothing placed
    hot, flask = _both(read_app, "GET", f"/orders/{uuid.uuid4()}", headers=upgrade)
    assert hot == flask
    assert _reaches_flask(read_app, monkeypatch, "GET", f"/orders/{uuid.uuid4()}",
                          headers=upgrade)


def _plain_app() -> Flask:
    app = Flask(__name__)
    app.add_url_rule("/orders", "orders", lambda: "", methods=["POST"])
    return app


_HOT = HotRoute("POST", "/orders", exact("/orders"), lambda deps, environ: None)


def _with_hook(kind: str) -> Flask:
    app = _plain_app()
    hook = {"before_request": app.before_request, "after_request": app.after_request,
            "teardown_request": app.teardown_request,
            "teardown_appcontext": app.teardown_appcontext,
            "url_value_preprocessor": app.url_value_preprocessor}[kind]
    hook(lambda *args: None)
    return app


@pytest.mark.parametrize("kind", ["before_request", "after_request", "teardown_request",
                                  "teardown_appcontext", "url_value_preprocessor"])
def test_a_request_hook_the_hot_layer_would_skip_stops_the_app_from_starting(kind):
    with pytest.raises(ValueError, match=kind):
        HotRoutes(_with_hook(kind), [_HOT], dependencies=None)


def test_a_before_request_hook_the_hot_handlers_account_for_is_allowed():
    app = _plain_app()
    body_hook = app.before_request(lambda: None)
    assert HotRoutes(app, [_HOT], dependencies=None, accounted_hooks=(body_hook,)).app is app


@pytest.mark.parametrize("config", [{"TRUSTED_HOSTS": ["api.example"]},
                                    {"SERVER_NAME": "api.example"}])
def test_host_checks_the_hot_layer_would_skip_stop_the_app_from_starting(config):
    app = _plain_app()
    app.config.update(config)
    with pytest.raises(ValueError, match="checks hosts"):
        HotRoutes(app, [_HOT], dependencies=None)


def test_a_hot_route_for_a_rule_the_app_lacks_stops_the_app_from_starting():
    for route in (HotRoute("POST", "/order", exact("/order"), lambda deps, environ: None),
                  HotRoute("GET", "/orders", exact("/orders"), lambda deps, environ: None)):
        with pytest.raises(ValueError, match="no such rule"):
            HotRoutes(_plain_app(), [route], dependencies=None)
    assert HotRoutes(_plain_app(), [_HOT], dependencies=None).app is not None


@pytest.mark.parametrize(("path", "matched"), [
    ("/orders/0b9a6bd4-8a3e-4c39-9d45-9c1f3f0a6a4e",
     (uuid.UUID("0b9a6bd4-8a3e-4c39-9d45-9c1f3f0a6a4e"),)),
    ("/orders/0B9A6BD4-8A3E-4C39-9D45-9C1F3F0A6A4E", None),  # Flask's converter takes it
    ("/orders/0b9a6bd48a3e4c399d459c1f3f0a6a4e", None),
    ("/orders/0b9a6bd4-8a3e-4c39-9d45-9c1f3f0a6a4e/", None),
    ("/orders/0b9a6bd4-8a3e-4c39-9d45-9c1f3f0a6a4e0", None),
    ("/ordersX0b9a6bd4-8a3e-4c39-9d45-9c1f3f0a6a4e", None),
    ("/orders/", None),
])
def test_uuid_after_matches_only_the_canonical_spelling(path, matched):
    assert uuid_after("/orders/")(path) == matched
    assert exact("/orders")(path) is None
