"""Idempotency-Key: replays return the original order, reuse with another body is 409."""

from __future__ import annotations

import threading
import uuid

import pytest

from tests.support.tokens import bearer, client_with


def _order_count(conn, customer_id: str) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM orders WHERE customer_id = %s", (customer_id,))
        return cur.fetchone()[0]


def _order_body(product: dict, quantity: int) -> dict:
    """An order of ``quantity`` of ``product``."""
    return {"items": [{"sku": product["sku"], "quantity": quantity}]}


@pytest.fixture
def customer() -> str:
    """A customer no other test uses."""
    return f"cust-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def as_customer(write_app, settings, customer):
    """The write API, as ``customer``."""
    return client_with(write_app, bearer(settings, customer))


def test_same_key_and_body_replays_the_original_response(make_product, as_customer,
                                                         superuser_conn, customer):
    product = make_product()
    key, body = str(uuid.uuid4()), _order_body(product, 2)
    first = as_customer.post("/orders", json=body, headers={"Idempotency-Key": key})
    # Same request, differently formatted: key order and whitespace do not matter.
    reordered = '{ "items": [ {"quantity": 2,  "sku": "' + product["sku"] + '"} ] }'
    replay = as_customer.post("/orders", data=reordered, content_type="application/json",
                               headers={"Idempotency-Key": key})

    assert first.status_code == replay.status_code == 202
    assert replay.json == first.json
    assert replay.headers["Location"] == first.headers["Location"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert _order_count(superuser_conn, customer) == 1


def test_replay_still_answers_with_the_original_status_after_the_order_moved_on(
        make_product, as_customer, superuser_conn):
    product = make_product()
    key = str(uuid.uuid4())
    body = _order_body(product, 1)
    first = as_customer.post("/orders", json=body, headers={"Idempotency-Key": key}).json
    with superuser_conn.cursor() as cur:
        cur.execute("UPDATE orders SET status = 'STOCK_VALIDATED' WHERE id = %s", (first["id"],))
    replay = as_customer.post("/orders", json=body, headers={"Idempotency-Key": key})
    assert replay.json == first
    assert replay.json["status"] == "PENDING"


def test_same_key_with_a_different_body_is_a_conflict(make_product, as_customer,
                                                      superuser_conn, customer):
    product = make_product()
    key = str(uuid.uuid4())
    first = as_customer.post("/orders", headers={"Idempotency-Key": key},
                              json=_order_body(product, 1))
    other = as_customer.post("/orders", headers={"Idempotency-Key": key},
                              json=_order_body(product, 5))
    assert other.status_code == 409
    error = other.json["error"]
    assert error["code"] == "idempotency_key_reused"
    assert error["details"] == {"idempotency_key": key, "order_id": first.json["id"]}
    assert _order_count(superuser_conn, customer) == 1


@pytest.fixture
def another_customer(write_app, settings) -> tuple[str, object]:
    """A second customer no other test uses, and the write API as that customer."""
    other = f"cust-{uuid.uuid4().hex[:8]}"
    return other, client_with(write_app, bearer(settings, other))


def test_a_key_another_customer_used_is_this_customers_own(make_product, another_customer,
                                                        as_customer, superuser_conn, customer):
    product = make_product()
    key = str(uuid.uuid4())
    other, as_other = another_customer
    theirs = as_other.post("/orders", headers={"Idempotency-Key": key},
                           json=_order_body(product, 3))
    # Not a 409 naming the other customer's order, not a replay of it: an order of its own.
    mine = as_customer.post("/orders", headers={"Idempotency-Key": key},
                            json=_order_body(product, 1))
    assert (theirs.status_code, mine.status_code) == (202, 202)
    assert mine.json["id"] != theirs.json["id"]
    assert "Idempotent-Replayed" not in mine.headers
    assert (_order_count(superuser_conn, customer), _order_count(superuser_conn, other)) == (1, 1)
    replay = as_customer.post("/orders", headers={"Idempotency-Key": key},
                              json=_order_body(product, 1))
    assert replay.json["id"] == mine.json["id"]


def test_without_a_key_every_request_is_a_new_order(make_product, as_customer, superuser_conn,
                                                   customer):
    body = _order_body(make_product(), 1)
    ids = {as_customer.post("/orders", json=body).json["id"] for _ in range(2)}
    assert len(ids) == 2
    assert _order_count(superuser_conn, customer) == 2


def test_requests_racing_with_one_key_create_exactly_one_order(make_product, write_app,
                                                               superuser_conn, settings,
                                                               customer):
    key, body = str(uuid.uuid4()), _order_body(make_product(), 1)
    racers = 8
    start = threading.Barrier(racers)
    responses: list = []
    lock = threading.Lock()

    def race() -> None:
        client = client_with(write_app, bearer(settings, customer))
        start.wait(timeout=30)
        response = client.post("/orders", json=body, headers={"Idempotency-Key": key})
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(responses) == racers
    assert {r.status_code for r in responses} == {202}
    assert len({r.json["id"] for r in responses}) == 1
    assert sum(1 for r in responses if "Idempotent-Replayed" not in r.headers) == 1
    assert _order_count(superuser_conn, customer) == 1
    with superuser_conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM outbox WHERE detail->>'customer_id' = %s",
                    (customer,))
        assert cur.fetchone() == (1,)


def test_a_malformed_key_is_rejected(make_product, as_customer):
    product = make_product()
    body = _order_body(product, 1)
    for bad in ("has space", "x" * 256, "ключ"):
        response = as_customer.post("/orders", json=body,
                                     headers={"Idempotency-Key": bad.encode().decode("latin-1")})
        assert response.status_code == 422, bad
        assert "Idempotency-Key" in response.json["error"]["details"]["headers"]
