"""No request hangs on the database: statements are bounded and a cancelled one is a 503.

The waits are real: a superuser session holds a lock the request needs, so
PostgreSQL itself cancels the request's statement (lock_timeout on the writer,
statement_timeout on the reader). Nothing in the service code exists for the test.
"""

from __future__ import annotations

import contextlib
import uuid

import psycopg2
import pytest

from order_local.stack import APP_DB
from order_platform import bootstrap, topology
from order_platform.adapters.orders import LOCK_KEY, LOCK_KEY_NAMESPACE
from order_platform.entrypoints.read_api.app import create_app as create_read_app
from order_platform.processes import READ_API, WRITE_API, Endpoint
from tests.support.tokens import bearer, client_with


@contextlib.contextmanager
def superuser_holding(pg_server, statement: str, params: tuple = ()):
    """A superuser transaction that runs ``statement`` (taking a lock) and keeps it open.

    If the API had no timeout its request would wait for this lock forever; the server
    ends this session after 15 s idle instead, so such a regression fails the
    assertions (the request then succeeds) rather than hanging the suite.
    """
    conn = psycopg2.connect(**pg_server.superuser_dsn(APP_DB))
    try:
        with conn.cursor() as cur:
            cur.execute("SET idle_in_transaction_session_timeout = '15s'")
            cur.execute(statement, params)
        yield
    finally:
        with contextlib.suppress(psycopg2.Error):  # the server may have ended it already
            conn.rollback()
        conn.close()


def _assert_timeout_503(response, limit: str) -> None:
    assert response.status_code == 503, response.json
    assert response.json == {"error": {
        "code": "database_timeout", "message": "The database did not answer in time; retry later.",
        "details": {"limit": limit}}}
    assert response.headers["Retry-After"] == "2"
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("api, expected", [
    ("write", {"statement_timeout": "5s", "lock_timeout": "2s"}),
    ("read", {"statement_timeout": "5s", "lock_timeout": "0"}),
])
def test_each_api_pool_sets_its_timeouts_on_every_connection(api, expected, write_app, read_app):
    specs = {**bootstrap.pool_specs(WRITE_API, write_app.extensions["order_platform"].settings),
             **bootstrap.pool_specs(READ_API, read_app.extensions["order_platform"].settings)}
    assert {e: (s.statement_timeout_ms, s.lock_timeout_ms) for e, s in specs.items()} == {
        Endpoint.WRITER: (5_000, 2_000), Endpoint.READER: (5_000, None)}
    database = (write_app if api == "write" else read_app).extensions["order_platform"].database
    with database.session() as session:
        assert session.execute(
            "SELECT current_setting('statement_timeout') AS statement_timeout,"
            " current_setting('lock_timeout') AS lock_timeout").one() == expected


def test_a_restock_stuck_behind_a_row_lock_is_a_503_then_succeeds(
        pg_server, make_product, write_client, superuser_conn):
    product = make_product(stock=5)
    restock = {"mode": "add", "quantity": 1}
    with superuser_holding(pg_server, "SELECT 1 FROM products WHERE id = %s FOR UPDATE",
                           (product["id"],)):
        stuck = write_client.post(f"/products/{product['id']}/stock", json=restock)
    _assert_timeout_503(stuck, "lock_timeout")
    with superuser_conn.cursor() as cur:
        cur.execute("SELECT stock FROM products WHERE id = %s", (product["id"],))
        assert cur.fetchone() == (5,)
        cur.execute("SELECT count(*) FROM outbox WHERE event_type = %s"
                    " AND detail->>'product_id' = %s",
                    (topology.PRODUCT_RESTOCKED.name, product["id"]))
        assert cur.fetchone() == (0,)
    # The lock is gone: the same request on the same pool goes through.
    retried = write_client.post(f"/products/{product['id']}/stock", json=restock)
    assert retried.status_code == 200
    assert retried.json["stock"] == 6


def test_an_order_waiting_on_its_idempotency_key_lock_is_a_503_and_creates_nothing(
        pg_server, make_product, write_client, superuser_conn, settings):
    product = make_product()
    key = str(uuid.uuid4())
    customer = f"cust-{uuid.uuid4().hex[:8]}"
    body = {"items": [{"sku": product["sku"], "quantity": 1}]}
    as_customer = {**bearer(settings, customer), "Idempotency-Key": key}
    # As if another request with this key were still in its transaction.
    with superuser_holding(pg_server, LOCK_KEY, (LOCK_KEY_NAMESPACE, key)):
        stuck = write_client.post("/orders", json=body, headers=as_customer)
    _assert_timeout_503(stuck, "lock_timeout")
    with superuser_conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM orders WHERE customer_id = %s", (customer,))
        assert cur.fetchone() == (0,)
    retried = write_client.post("/orders", json=body, headers=as_customer)
    assert retried.status_code == 202
    assert "Idempotent-Replayed" not in retried.headers


@pytest.fixture
def impatient_read_client(settings):
    """The read API on a reader pool whose statements may run 300 ms (production: 5 s)."""
    runtime = bootstrap.start(READ_API, settings, pools={
        Endpoint.READER: bootstrap.PoolSpec(max_connections=2, statement_timeout_ms=300)})
    yield client_with(create_read_app(settings, database=runtime.database(Endpoint.READER)),
                      bearer(settings, "support-1", "support"))
    runtime.close()


# A literal id, not uuid4(): every pytest-xdist worker must collect the same test ids.
@pytest.mark.parametrize("path", ["/orders?limit=5",
                                  "/orders/3c6e9f2a-8b1d-4e7c-a5f4-0d9c8b7a6e5f"])
def test_a_read_stuck_behind_a_table_lock_hits_statement_timeout_and_is_a_503(
        pg_server, impatient_read_client, path):
    # ACCESS EXCLUSIVE is what a migration's ALTER TABLE takes; a reader queues behind it.
    with superuser_holding(pg_server, "LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"):
        stuck = impatient_read_client.get(path)
    _assert_timeout_503(stuck, "statement_timeout")
    assert impatient_read_client.get("/orders?limit=1").status_code == 200
