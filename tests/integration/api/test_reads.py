"""The read API: order detail, keyset pages of orders and products, read-after-write 404s."""

from __future__ import annotations

import threading
import uuid

import psycopg2
import pytest

from order_platform.service_layer import pagination
from tests.support.tokens import bearer, client_with


def test_order_detail_has_status_lines_total_and_history(make_product, place_order,
                                                         read_client, superuser_conn):
    product = make_product(price_cents=300)
    placed = place_order([{"sku": product["sku"], "quantity": 4}], customer_id="cust-d").json
    with superuser_conn.cursor() as cur:  # what the pipeline would do
        cur.execute("UPDATE orders SET status = 'REJECTED', rejection_reason = 'out of stock'"
                    " WHERE id = %s", (placed["id"],))
        cur.execute("INSERT INTO order_status_history (order_id, status, reason)"
                    " VALUES (%s, 'REJECTED', 'out of stock')", (placed["id"],))

    response = read_client.get(f"/orders/{placed['id']}")
    assert response.status_code == 200
    order = response.json
    assert (order["id"], order["customer_id"], order["status"], order["rejection_reason"],
            order["total_cents"]) == (placed["id"], "cust-d", "REJECTED", "out of stock", 1200)
    assert order["lines"] == [{"line_no": 1, "product_id": product["id"], "sku": product["sku"],
                               "quantity": 4, "unit_price_cents": 300, "line_total_cents": 1200}]
    assert [(h["status"], h["reason"]) for h in order["history"]] == [
        ("PENDING", None), ("REJECTED", "out of stock")]
    assert all(h["occurred_at"] for h in order["history"])


def test_an_order_the_reader_lacks_is_404_with_retry_after(read_client):
    order_id = str(uuid.uuid4())
    response = read_client.get(f"/orders/{order_id}")
    assert response.status_code == 404
    assert response.headers["Retry-After"] == "1"
    assert response.json["error"] == {"code": "order_not_found",
                                      "message": f"order {order_id} not found",
                                      "details": {"order_id": order_id}}


@pytest.mark.parametrize("bad_id", ["abc", "123", "00000000-0000-0000-0000-00000000000g",
                                    "%00", "' OR 1=1 --"])
def test_a_malformed_order_id_is_a_plain_404(read_client, bad_id):
    response = read_client.get(f"/orders/{bad_id}")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert "Retry-After" not in response.headers  # it will never exist


def _pages(read_client, query: str, max_pages: int = 200) -> list[list[dict]]:
    pages, cursor = [], None
    for _ in range(max_pages):
        url = f"/orders?{query}" + (f"&cursor={cursor}" if cursor else "")
        response = read_client.get(url)
        assert response.status_code == 200, response.json
        pages.append(response.json["items"])
        cursor = response.json["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("pagination did not end")


def test_orders_are_listed_newest_first_by_customer_and_status(make_product, place_order,
                                                               read_client, superuser_conn):
    product = make_product()
    customer = f"cust-{uuid.uuid4().hex[:8]}"
    ids = [place_order([{"sku": product["sku"], "quantity": 1}], customer_id=customer).json["id"]
           for _ in range(7)]
    with superuser_conn.cursor() as cur:
        cur.execute("UPDATE orders SET status = 'CONFIRMED' WHERE id = ANY(%s::uuid[])",
                    (ids[:3],))

    pages = _pages(read_client, f"customer_id={customer}&limit=3")
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [o["id"] for p in pages for o in p] == list(reversed(ids))

    confirmed = _pages(read_client, f"customer_id={customer}&status=CONFIRMED&limit=2")
    assert [o["id"] for p in confirmed for o in p] == list(reversed(ids[:3]))
    assert {o["status"] for p in confirmed for o in p} == {"CONFIRMED"}


def test_pages_are_stable_while_orders_are_inserted_concurrently(make_product, place_order,
                                                                 read_client, write_app,
                                                                 settings):
    product = make_product(stock=1000)
    customer = f"cust-{uuid.uuid4().hex[:8]}"
    existing = [place_order([{"sku": product["sku"], "quantity": 1}],
                            customer_id=customer).json["id"] for _ in range(12)]

    first = read_client.get(f"/orders?customer_id={customer}&limit=4").json
    stop = threading.Event()
    inserted: list[str] = []

    def insert_more() -> None:
        client = client_with(write_app, bearer(settings, customer))
        for _ in range(30):  # bounded
            if stop.is_set():
                return
            response = client.post("/orders", json={
                "items": [{"sku": product["sku"], "quantity": 1}]})
            inserted.append(response.json["id"])

    inserter = threading.Thread(target=insert_more)
    inserter.start()
    try:
        seen = [o["id"] for o in first["items"]]
        cursor = first["next_cursor"]
        for _ in range(50):  # bounded
            if cursor is None:
                break
            page = read_client.get(f"/orders?customer_id={customer}&limit=4&cursor={cursor}")
            seen += [o["id"] for o in page.json["items"]]
            cursor = page.json["next_cursor"]
            inserter.join(timeout=0.05)  # let inserts interleave with the pages
        inserted_while_paging = len(inserted)
    finally:
        stop.set()
        inserter.join(timeout=60)

    assert inserted_while_paging > 0, "no order was inserted while paging"
    # Every order that existed before paging began, exactly once, newest first;
    # none of the orders inserted meanwhile (they sort before the first page).
    assert seen == list(reversed(existing))
    # And a fresh traversal sees everything.
    fresh = [o["id"] for p in _pages(read_client, f"customer_id={customer}&limit=7") for o in p]
    assert sorted(fresh) == sorted(existing + inserted)
    assert len(fresh) == len(set(fresh))


@pytest.mark.parametrize("query", [
    "limit=0", "limit=101", "limit=-1", "limit=abc", "limit=1e3", "limit=99999999999999999999",
    "status=SHIPPED", "status=", "cursor=", "cursor=not-a-cursor", "cursor=%00",
    "cursor=" + "A" * 600, "customer_id=%00", "customer_id=" + "c" * 129,
])
def test_bad_list_queries_are_422(read_client, query):
    response = read_client.get(f"/orders?{query}")
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "validation_failed"
    assert "query" in response.json["error"]["details"]


@pytest.mark.parametrize("cursor", [
    pagination.Cursor(kind="products", after="SKU-1", scope=pagination.scope_of()),
    pagination.Cursor(kind="orders", after=2**63, scope="0" * 16),
    pagination.Cursor(kind="orders", after=0, scope="0" * 16),
    pagination.Cursor(kind="orders", after="5", scope="0" * 16),
])
def test_cursors_we_did_not_issue_for_this_list_are_422(read_client, cursor):
    response = read_client.get(f"/orders?cursor={pagination.encode(cursor)}")
    assert response.status_code == 422
    assert "cursor" in response.json["error"]["details"]["query"]


def test_a_cursor_only_works_with_the_filters_it_was_issued_for(make_product, place_order,
                                                                read_client):
    product = make_product()
    customer = f"cust-{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        place_order([{"sku": product["sku"], "quantity": 1}], customer_id=customer)
    cursor = read_client.get(f"/orders?customer_id={customer}&limit=1").json["next_cursor"]
    assert read_client.get(
        f"/orders?customer_id={customer}&limit=1&cursor={cursor}").status_code == 200
    other = read_client.get(f"/orders?customer_id=someone-else&limit=1&cursor={cursor}")
    assert other.status_code == 422
    assert "different list or filters" in other.json["error"]["details"]["query"]["cursor"][0]


def test_products_by_id_and_by_sku(make_product, read_client):
    product = make_product(name="Pen", price_cents=99, stock=3)
    by_id = read_client.get(f"/products/{product['id']}")
    by_sku = read_client.get(f"/products/{product['sku']}")
    assert by_id.status_code == by_sku.status_code == 200
    assert by_id.json == by_sku.json == product


# A literal id, not uuid4(): every pytest-xdist worker must collect the same test ids.
@pytest.mark.parametrize("ref", ["9e2a7b1c-4d3f-4a8e-b6c5-1f0e9d8c7b6a", "NO-SUCH-SKU-y"])
def test_an_unknown_product_is_404_with_retry_after(read_client, ref):
    response = read_client.get(f"/products/{ref}")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "product_not_found"
    assert response.headers["Retry-After"] == "1"


@pytest.mark.parametrize("ref", ["%00", "a b", "x" * 65, "-leading-dash"])
def test_a_reference_that_can_never_match_is_404_without_retry_after(read_client, ref):
    response = read_client.get(f"/products/{ref}")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "product_not_found"
    assert "Retry-After" not in response.headers


def test_product_pages_cover_the_catalogue_once(make_product, read_client):
    ours = {make_product()["id"] for _ in range(5)}
    seen: list[str] = []
    cursor = None
    for _ in range(10_000):  # bounded; other tests add products too
        url = "/products?limit=100" + (f"&cursor={cursor}" if cursor else "")
        page = read_client.get(url).json
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert cursor is None
    assert len(seen) == len(set(seen))
    assert ours <= set(seen)


def test_product_page_size_and_cursor_are_validated(read_client):
    assert read_client.get("/products?limit=0").status_code == 422
    order_cursor = pagination.encode(pagination.Cursor(kind="orders", after=5,
                                                       scope=pagination.scope_of()))
    assert read_client.get(f"/products?cursor={order_cursor}").status_code == 422


def test_the_read_api_pool_is_read_only(read_app):
    with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction), \
            read_app.extensions["order_platform"].database.session() as session:
        session.execute("INSERT INTO products (sku, name, price_cents, stock)"
                        " VALUES ('RO-1', 'x', 1, 1)").all()
