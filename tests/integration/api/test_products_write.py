"""Catalogue administration: create and restock, each with its outbox event."""

from __future__ import annotations

import threading

import pytest

from order_platform import topology
from order_platform.domain.catalog import MAX_STOCK
from tests.integration.api.conftest import random_sku
from tests.support.tokens import staff_client


def _events(conn, event_type, product_id: str) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute("SELECT detail FROM outbox WHERE event_type = %s"
                    " AND detail->>'product_id' = %s ORDER BY id",
                    (event_type.name, product_id))
        return [row[0] for row in cur.fetchall()]


def test_create_product_answers_201_and_stages_product_created(write_client, superuser_conn,
                                                               settings):
    sku = random_sku("MUG")
    response = write_client.post("/products", json={"sku": sku, "name": "Blue mug ☕",
                                                    "price_cents": 1250, "stock": 7})
    assert response.status_code == 201
    product = response.json
    assert (product["sku"], product["name"], product["price_cents"], product["stock"]) == (
        sku, "Blue mug ☕", 1250, 7)
    assert response.headers["Location"] == f"{settings.read_api_url}/products/{product['id']}"
    [event] = _events(superuser_conn, topology.PRODUCT_CREATED, product["id"])
    assert {k: event[k] for k in ("sku", "name", "price_cents", "stock")} == {
        "sku": sku, "name": "Blue mug ☕", "price_cents": 1250, "stock": 7}


def test_stock_defaults_to_zero(write_client):
    response = write_client.post("/products", json={"sku": random_sku(), "name": "n",
                                                    "price_cents": 0})
    assert response.status_code == 201
    assert response.json["stock"] == 0


def test_a_taken_sku_is_a_conflict(make_product, write_client):
    product = make_product()
    response = write_client.post("/products", json={"sku": product["sku"], "name": "again",
                                                    "price_cents": 1})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "sku_exists"
    assert response.json["error"]["details"] == {"sku": product["sku"]}


@pytest.mark.parametrize("by", ["id", "sku"])
def test_restock_sets_or_adds_and_stages_product_restocked(make_product, write_client,
                                                           superuser_conn, by):
    product = make_product(stock=5)
    path = f"/products/{product[by]}/stock"
    added = write_client.post(path, json={"mode": "add", "quantity": 3})
    assert added.status_code == 200
    assert added.json["stock"] == 8
    set_ = write_client.post(path, json={"mode": "set", "quantity": 0})
    assert set_.json["stock"] == 0
    events = _events(superuser_conn, topology.PRODUCT_RESTOCKED, product["id"])
    assert [(e["mode"], e["quantity"], e["stock"]) for e in events] == [("add", 3, 8),
                                                                       ("set", 0, 0)]


def test_concurrent_adds_lose_no_update(make_product, write_app):
    product = make_product(stock=0)
    adders, per_adder = 6, 5
    start = threading.Barrier(adders)

    def add() -> None:
        client = staff_client(write_app)
        start.wait(timeout=30)
        for _ in range(per_adder):
            assert client.post(f"/products/{product['sku']}/stock",
                               json={"mode": "add", "quantity": 1}).status_code == 200

    threads = [threading.Thread(target=add) for _ in range(adders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    final = staff_client(write_app).post(f"/products/{product['sku']}/stock",
                                         json={"mode": "add", "quantity": 1})
    assert final.json["stock"] == adders * per_adder + 1


def test_stock_cannot_overflow(make_product, write_client, superuser_conn):
    product = make_product(stock=MAX_STOCK - 1)
    response = write_client.post(f"/products/{product['id']}/stock",
                                 json={"mode": "add", "quantity": 2})
    assert response.status_code == 409  # the same body succeeds on a product with less stock
    assert response.json["error"]["code"] == "stock_out_of_range"
    with superuser_conn.cursor() as cur:
        cur.execute("SELECT stock FROM products WHERE id = %s", (product["id"],))
        assert cur.fetchone() == (MAX_STOCK - 1,)
    assert _events(superuser_conn, topology.PRODUCT_RESTOCKED, product["id"]) == []


@pytest.mark.parametrize("body", [
    {"mode": "add", "quantity": 0},
    {"mode": "add", "quantity": -1},
    {"mode": "set", "quantity": -5},
    {"mode": "remove", "quantity": 1},
    {"mode": "set", "quantity": MAX_STOCK + 1},
    {"mode": "set"},
])
def test_restock_bodies_that_could_make_stock_negative_or_invalid_are_422(make_product,
                                                                         write_client, body):
    product = make_product(stock=3)
    response = write_client.post(f"/products/{product['id']}/stock", json=body)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_failed"


# Literal ids, not uuid4(): every pytest-xdist worker must collect the same test ids.
@pytest.mark.parametrize("ref", ["5d0f3c8e-2b7a-4e61-9c4d-8a1b2f3e4d5c", "NO-SUCH-SKU-x1",
                                 "bad%20sku", "%00"])
def test_restocking_an_unknown_product_is_404(write_client, ref):
    response = write_client.post(f"/products/{ref}/stock", json={"mode": "set", "quantity": 1})
    assert response.status_code == 404
    assert response.json["error"]["code"] == "product_not_found"
    assert "Retry-After" not in response.headers  # the writer does not lag itself
