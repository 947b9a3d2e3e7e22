"""The reference the benchmark measures the APIs against: bare Flask + psycopg2, no more.

It runs exactly the SQL of the real endpoints (``POST /orders`` without an Idempotency-Key,
``GET /orders/<id>``), in the same round trips (the order's statements prepared once per
connection and planned once, as the API's unit of work prepares them: ``adapters.prepared``),
with none of what the project adds: no validation library, no schema serialisation, no
logging, no request ids, no pool (one connection per thread), no error mapping. It checks only
what it must not crash on. What every real request pays besides, it pays too: the bearer
token verified by the same adapter (the customer is its subject; someone else's order is a
404), and TLS to the database with the server's certificate checked (sslmode=verify-full).
Never deploy it.

    DB_WRITER_HOST=127.0.0.1 DB_READER_HOST=127.0.0.2 DB_PORT=5432 DB_NAME=orders \\
        DB_USER=... DB_PASSWORD=... DB_SSL_ROOT_CERT=ca.crt AUTH_ISSUER=... AUTH_JWKS_URL=... \\
        AUTH_AUDIENCES=... gunicorn -k gthread -w 2 --threads 4 'bench.bare_app:create_app()'
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from datetime import UTC, datetime

import psycopg2
import psycopg2.extensions
import psycopg2.extras
from flask import Flask, abort, jsonify, request

from bench import bare_sql
from order_platform.adapters.orders import ADD_ORDER
from order_platform.adapters.outbox import INSERT_EVENT
from order_platform.adapters.products import CATALOGUE
from order_platform.adapters.read_model import ORDER_DETAIL
from order_platform.adapters.tokens import JwksTokenVerifier
from order_platform.domain.access import Caller, TokenRejected

# The real endpoint's two round trips: the prices with BEGIN, then the order (its lines and
# first history row), OrderCreated and COMMIT together.
_BEGIN = ("BEGIN", ())
_COMMIT = ("COMMIT", ())

psycopg2.extras.register_uuid()
_local = threading.local()


def _connection(host_env: str):
    """This thread's connection to the writer or the reader, opened on first use."""
    conn = getattr(_local, host_env, None)
    if conn is None or conn.closed:
        conn = bare_sql.connect_preparing(
            host=os.environ[host_env], port=os.environ["DB_PORT"], dbname=os.environ["DB_NAME"],
            user=os.environ["DB_USER"], password=os.environ["DB_PASSWORD"],
            sslmode="verify-full", sslrootcert=os.environ["DB_SSL_ROOT_CERT"])
        setattr(_local, host_env, conn)
    return conn


def _verifier() -> JwksTokenVerifier:
    """The APIs' token check, configured as theirs (``bootstrap.token_verifier``)."""
    return JwksTokenVerifier(
        issuer=os.environ["AUTH_ISSUER"], jwks_url=os.environ["AUTH_JWKS_URL"],
        audiences=os.environ["AUTH_AUDIENCES"].split(","),
        audience_claim=os.environ.get("AUTH_AUDIENCE_CLAIM", "client_id"),
        roles_claim=os.environ.get("AUTH_ROLES_CLAIM", "cognito:groups"))


def create_app() -> Flask:
    """Two routes, the real SQL and the real token check, nothing else."""
    app = Flask(__name__)
    verifier = _verifier()

    def caller() -> Caller:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer":
                raise TokenRejected("no bearer token")
            return verifier.verify(token.strip())
        except TokenRejected:
            abort(401)

    @app.post("/orders")
    def place_order():
        customer_id = caller().customer_id
        items = request.get_json()["items"]
        ids = [i["product_id"] for i in items if "product_id" in i]
        skus = [i["sku"] for i in items if "sku" in i]
        conn = _connection("DB_WRITER_HOST")
        conn.autocommit = True  # BEGIN and COMMIT travel with the statements, as the API's do
        with conn.cursor() as cur:
            cur.execute(*bare_sql.trip(conn, _BEGIN, (CATALOGUE, (ids, skus))))
            catalogue = {}
            for product_id, sku, price in cur.fetchall():
                catalogue[str(product_id)] = catalogue[sku] = (product_id, sku, price)
        lines = []
        for n, item in enumerate(items, 1):
            product_id, sku, price = catalogue[item.get("product_id") or item["sku"]]
            lines.append((n, product_id, sku, int(item["quantity"]), price))
        order_id = uuid.uuid4()
        total = sum(q * p for _, _, _, q, p in lines)
        event_id = str(uuid.uuid4())
        created_at = datetime.now(UTC)
        detail = {"order_id": str(order_id), "customer_id": customer_id, "total_cents": total,
                  "lines": [{"product_id": str(pid), "sku": sku, "quantity": q,
                             "unit_price_cents": p} for _, pid, sku, q, p in lines],
                  "event_id": event_id, "occurred_at": datetime.now(UTC).isoformat()}
        with conn.cursor() as cur:
            cur.execute(*bare_sql.trip(conn, (ADD_ORDER, (
                order_id, customer_id, "PENDING", total, created_at, created_at, order_id,
                [n for n, *_ in lines], [pid for _, pid, *_ in lines],
                [q for *_, q, _ in lines], [p for *_, p in lines], order_id, "PENDING",
                created_at)), (INSERT_EVENT, (
                event_id, "OrderCreated", "order-platform.orders", json.dumps(detail))),
                _COMMIT))
        return jsonify({
            "id": str(order_id), "customer_id": customer_id, "status": "PENDING",
            "total_cents": total, "created_at": created_at.isoformat(),
            "lines": [{"line_no": n, "product_id": str(pid), "sku": sku, "quantity": q,
                       "unit_price_cents": p, "line_total_cents": q * p}
                      for n, pid, sku, q, p in lines]}), 202

    @app.get("/orders/<order_id>")
    def get_order(order_id: str):
        reader = caller()
        conn = _connection("DB_READER_HOST")
        conn.autocommit = True  # one statement: no BEGIN, no COMMIT
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(ORDER_DETAIL, (order_id,))
            order = cur.fetchone()
        if order is None or not reader.may_read_orders_of(order["customer_id"]):
            abort(404)
        for line in order["lines"]:
            line["line_total_cents"] = line["quantity"] * line["unit_price_cents"]
        return jsonify(order)

    return app
