"""POST /orders: validation, pricing from the catalogue, and the atomic outbox row."""

from __future__ import annotations

import uuid

import pytest

from order_platform import topology
from order_platform.adapters.outbox import SqlOutbox


def _outbox_rows(conn, order_id: str) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute("SELECT event_type, source, detail FROM outbox"
                    " WHERE detail->>'order_id' = %s", (order_id,))
        return [dict(zip(("event_type", "source", "detail"), row, strict=True))
                for row in cur.fetchall()]


def test_order_is_accepted_priced_and_announced(make_product, place_order, superuser_conn,
                                                settings):
    mug = make_product(price_cents=1250)
    pen = make_product(price_cents=199)
    response = place_order([{"product_id": mug["id"], "quantity": 2},
                            {"sku": pen["sku"], "quantity": 3}], customer_id="cust-a")

    assert response.status_code == 202
    body = response.json
    assert body["status"] == "PENDING"
    assert body["customer_id"] == "cust-a"
    assert body["total_cents"] == 2 * 1250 + 3 * 199
    assert [(ln["line_no"], ln["sku"], ln["quantity"], ln["unit_price_cents"])
            for ln in body["lines"]] == [(1, mug["sku"], 2, 1250), (2, pen["sku"], 3, 199)]
    assert response.headers["Location"] == f"{settings.read_api_url}/orders/{body['id']}"
    assert "Idempotent-Replayed" not in response.headers

    with superuser_conn.cursor() as cur:
        cur.execute("SELECT status, total_cents FROM orders WHERE id = %s", (body["id"],))
        assert cur.fetchone() == ("PENDING", 2 * 1250 + 3 * 199)
        cur.execute("SELECT status FROM order_status_history WHERE order_id = %s", (body["id"],))
        assert cur.fetchall() == [("PENDING",)]
    [event] = _outbox_rows(superuser_conn, body["id"])
    assert event["event_type"] == topology.ORDER_CREATED.name
    assert event["source"] == topology.ORDER_CREATED.source
    detail = event["detail"]
    assert detail["customer_id"] == "cust-a"
    assert detail["total_cents"] == body["total_cents"]
    assert detail["lines"] == [
        {"product_id": mug["id"], "sku": mug["sku"], "quantity": 2, "unit_price_cents": 1250},
        {"product_id": pen["id"], "sku": pen["sku"], "quantity": 3, "unit_price_cents": 199},
    ]
    uuid.UUID(detail["event_id"])


def test_price_is_the_catalogue_price_at_order_time(make_product, place_order, superuser_conn,
                                                   read_client):
    product = make_product(price_cents=500)
    first = place_order([{"sku": product["sku"], "quantity": 1}]).json
    with superuser_conn.cursor() as cur:
        cur.execute("UPDATE products SET price_cents = 700 WHERE id = %s", (product["id"],))
    second = place_order([{"sku": product["sku"], "quantity": 1}]).json
    assert (first["total_cents"], second["total_cents"]) == (500, 700)
    # The first order keeps the price it was placed at.
    assert read_client.get(f"/orders/{first['id']}").json["lines"][0]["unit_price_cents"] == 500


def test_unknown_products_are_rejected_by_name_and_nothing_is_written(
        make_product, place_order, superuser_conn):
    known = make_product()
    ghost_id, ghost_sku = str(uuid.uuid4()), f"GHOST-{uuid.uuid4().hex[:8]}"
    customer = f"cust-{uuid.uuid4().hex[:8]}"
    response = place_order([{"sku": known["sku"], "quantity": 1},
                            {"product_id": ghost_id, "quantity": 1},
                            {"sku": ghost_sku, "quantity": 2}], customer_id=customer)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "unknown_products"
    assert error["details"]["unknown_products"] == [{"product_id": ghost_id}, {"sku": ghost_sku}]
    assert ghost_id in error["message"] and ghost_sku in error["message"]
    with superuser_conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM orders WHERE customer_id = %s", (customer,))
        assert cur.fetchone() == (0,)


@pytest.mark.parametrize("second_ref", ["product_id", "sku"])
def test_a_product_on_two_lines_is_rejected(make_product, place_order, second_ref):
    product = make_product()
    response = place_order([{"product_id": product["id"], "quantity": 1},
                            {second_ref: product["id" if second_ref == "product_id" else "sku"],
                             "quantity": 4}])
    assert response.status_code == 422
    assert response.json["error"]["code"] == "duplicate_product_lines"
    assert response.json["error"]["details"] == {"duplicate_product_ids": [product["id"]]}


def test_order_and_outbox_row_commit_together_or_not_at_all(make_product, place_order,
                                                           superuser_conn, monkeypatch):
    product = make_product()
    customer = f"cust-{uuid.uuid4().hex[:8]}"

    def failing_add(outbox, event_type, detail):
        real_add(outbox, event_type, detail)  # the row is staged...
        raise RuntimeError("broker of the outbox fell over")  # ...then the transaction fails

    real_add = SqlOutbox.add
    monkeypatch.setattr(SqlOutbox, "add", failing_add)
    response = place_order([{"sku": product["sku"], "quantity": 1}], customer_id=customer)
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    with superuser_conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM orders WHERE customer_id = %s", (customer,))
        assert cur.fetchone() == (0,)
        cur.execute("SELECT count(*) FROM outbox WHERE detail->>'customer_id' = %s", (customer,))
        assert cur.fetchone() == (0,)

    monkeypatch.setattr(SqlOutbox, "add", real_add)
    response = place_order([{"sku": product["sku"], "quantity": 1}], customer_id=customer)
    assert response.status_code == 202
    assert len(_outbox_rows(superuser_conn, response.json["id"])) == 1
