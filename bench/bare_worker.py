"""The reference the pipeline benchmark measures the worker against: boto3 + psycopg2 + redis.

One thread per queue: long-poll ten messages, run each one's statements, delete the ten in one
call. The statements and their round trips are the worker's: the claim with BEGIN, the order's
lines, the conditional decrement, then the status change, its history row and the next event
with COMMIT; the eviction is the worker's one script call. It also waits as long as the worker
after a short receive (``RECEIVE_LINGER``), so that both batch alike and the benchmark compares
the work around the calls, not the number of calls.

None of what the project adds: no handler pool, no leases, no outage gate, no retries or
backoff, no deadlines, no logs, metrics or spans, no validation beyond what it must not crash
on. A message whose statements fail is left to come back after its visibility timeout. It
counts what it handled on /metrics (the worker's metric names), so the benchmark divides its
CPU as it divides the worker's. Never deploy it.

    <the worker's environment> HEALTH_PORT=9100 python -m bench.bare_worker
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import psycopg2
import psycopg2.extras
import redis

from bench import bare_sql
from order_platform import telemetry, topology
from order_platform.adapters.cache import _EVICT
from order_platform.adapters.consumer import RECEIVE_LINGER
from order_platform.adapters.orders import MOVE, ORDER_LINES
from order_platform.adapters.outbox import INSERT_EVENT
from order_platform.adapters.processed_events import CLAIM_ORDER
from order_platform.adapters.products import DEDUCT, LOCK_PRODUCTS, STOCK
from order_platform.domain.catalog import ProductRef
from order_platform.domain.stock import Shortage, rejection, shortages_in
from order_platform.service_layer import product_cache as pc


def connect(host: str, port: int | str, dbname: str, secret: dict, *, preparing: bool = False):
    """One connection (each thread has its own, as in the bare app); ``preparing`` for the
    writer, whose transactions the worker sends as prepared statements (``bare_sql``)."""
    dsn = {"host": host, "port": port, "dbname": dbname, "user": secret["username"],
           "password": secret["password"], "cursor_factory": psycopg2.extras.RealDictCursor}
    conn = bare_sql.connect_preparing(**dsn) if preparing else psycopg2.connect(**dsn)
    conn.autocommit = True  # BEGIN and COMMIT travel with the statements, as the worker's do
    return conn


def _run(cur, *statements: tuple[str, tuple]) -> None:
    """One round trip: prepared on the writer, as text on the reader (as the worker's
    sessions send them)."""
    if getattr(cur.connection, "prepared_names", None) is None:
        cur.execute(";\n".join(sql for sql, _ in statements),
                    [v for _, values in statements for v in values] or None)
    else:
        cur.execute(*bare_sql.trip(cur.connection, *statements))


def _wanted(lines: list[dict]) -> dict[str, int]:
    wanted: dict[str, int] = {}
    for line in lines:
        product_id = str(line["product_id"])
        wanted[product_id] = wanted.get(product_id, 0) + int(line["quantity"])
    return wanted


def _shortages(cur, wanted: dict[str, int]) -> list[Shortage]:
    _run(cur, (STOCK, (list(wanted),)))
    return shortages_in(wanted, {r["id"]: (r["stock"], r["sku"]) for r in cur.fetchall()})


def _claim(cur, queue: topology.Queue, detail: dict) -> str | None:
    """BEGIN and the claim in one trip: the order's status, or None for a redelivery."""
    _run(cur, ("BEGIN", ()), (CLAIM_ORDER, (detail["order_id"], queue.consumer,
                                             detail["event_id"])))
    row = cur.fetchone()
    return row["status"] if row["first"] else None


def _settle(cur, order_id: str, status: str, event_type: topology.EventType, detail: dict, *,
            reason: str | None = None) -> None:
    """The status, its history row and the next event, with COMMIT, in one trip."""
    body = {**detail, "event_id": str(uuid.uuid4()), "occurred_at": datetime.now(UTC).isoformat()}
    _run(cur, (MOVE, (status, reason, order_id)), (INSERT_EVENT, (
        body["event_id"], event_type.name, event_type.source, json.dumps(body))), ("COMMIT", ()))


def _reject(cur, order_id: str, shortages: list[Shortage]) -> None:
    code, reason = rejection(shortages)
    detail = {"order_id": order_id, "reason": code, "details": [asdict(s) for s in shortages]}
    _settle(cur, order_id, "REJECTED", topology.ORDER_REJECTED, detail, reason=reason)


def validate(conns, detail_type: str, detail: dict) -> None:
    """OrderCreated: the reader's stock, then the claim and the decision on the writer."""
    order_id, wanted = detail["order_id"], _wanted(detail["lines"])
    with conns["reader"].cursor() as cur:
        advisory = _shortages(cur, wanted)
    with conns["writer"].cursor() as cur:
        if _claim(cur, topology.STOCK_VALIDATION_QUEUE, detail) != "PENDING":
            cur.execute("COMMIT")
        elif advisory and (shortages := _shortages(cur, wanted)):
            _reject(cur, order_id, shortages)
        else:
            validated = {"order_id": order_id, "lines": detail["lines"]}
            if (placed := detail.get("occurred_at")) is not None:
                validated[topology.PLACED_AT_FIELD] = placed
            _settle(cur, order_id, "STOCK_VALIDATED", topology.STOCK_VALIDATED, validated)


def deduct(conns, detail_type: str, detail: dict) -> None:
    """StockValidated: the claim, the order's lines, the decrement, the decision."""
    order_id = detail["order_id"]
    with conns["writer"].cursor() as cur:
        if _claim(cur, topology.INVENTORY_UPDATE_QUEUE, detail) != "STOCK_VALIDATED":
            cur.execute("COMMIT")
            return
        _run(cur, (ORDER_LINES, (order_id,)))
        lines = [dict(r) for r in cur.fetchall()]
        wanted = _wanted(lines)
        if len(wanted) == 1:
            ((product_id, quantity),) = wanted.items()
            _run(cur, (DEDUCT, (quantity, product_id, quantity)))
            enough = cur.rowcount == 1
        else:
            _run(cur, (LOCK_PRODUCTS, (list(wanted),)), ("SAVEPOINT deduct", ()))
            enough = True
            for product_id in sorted(wanted):
                _run(cur, (DEDUCT, (wanted[product_id], product_id, wanted[product_id])))
                enough = enough and cur.rowcount == 1
            cur.execute("RELEASE SAVEPOINT deduct" if enough else "ROLLBACK TO SAVEPOINT deduct")
        if enough:
            _settle(cur, order_id, "CONFIRMED", topology.INVENTORY_UPDATED,
                    {"order_id": order_id, "lines": lines})
        else:
            _reject(cur, order_id, _shortages(cur, wanted))


def evict(conns, detail_type: str, detail: dict) -> None:
    """InventoryUpdated (and the catalogue's events): the worker's eviction, one script call."""
    products = pc.changed_products(detail_type, detail)
    keys = [pc.product_key(ProductRef(product_id=uuid.UUID(pid))) for pid, _ in products]
    keys += [pc.product_key(ProductRef(sku=sku)) for _, sku in products if sku]
    markers = [*(pc.changed_marker(pid) for pid, _ in products), pc.LIST_CHANGED]
    conns["evict"](keys=[*markers, *keys, pc.LIST_GENERATION],
                   args=[pc.CHANGED_WINDOW_MS, len(markers), len(keys)])


HANDLERS = {topology.STOCK_VALIDATION_QUEUE: validate, topology.INVENTORY_UPDATE_QUEUE: deduct,
            topology.PRODUCT_CACHE_QUEUE: evict}


class Counts:
    """Messages handled and receives answered, per queue (each written by one thread)."""

    def __init__(self) -> None:
        self.handled = dict.fromkeys(HANDLERS, 0)
        self.receives = dict.fromkeys(HANDLERS, 0)

    def text(self) -> str:
        """The two counters in the exposition format, under the worker's names."""
        return "".join(
            f'{telemetry.MESSAGES_HANDLED.name}{{queue="{q.key}",outcome="handled"}} '
            f'{self.handled[q]}\n{telemetry.RECEIVES.name}{{queue="{q.key}"}} '
            f'{self.receives[q]}\n' for q in HANDLERS)


def consume(queue: topology.Queue, sqs, conns, counts: Counts) -> None:
    """Receive, handle, delete, until the process ends."""
    url, handle = os.environ[queue.url_env_var], HANDLERS[queue]
    wait = int(os.environ.get("WORKER_POLL_WAIT_SECONDS", "20"))
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=wait).get("Messages", [])
        counts.receives[queue] += 1
        done = []
        for i, message in enumerate(messages):
            envelope = json.loads(message["Body"])
            try:
                handle(conns, envelope["detail-type"], envelope["detail"])
            except (psycopg2.Error, redis.RedisError):
                with contextlib.suppress(psycopg2.Error), conns["writer"].cursor() as cur:
                    cur.execute("ROLLBACK")  # it comes back after its visibility timeout
                continue
            done.append({"Id": str(i), "ReceiptHandle": message["ReceiptHandle"]})
        if done:
            sqs.delete_message_batch(QueueUrl=url, Entries=done)
            counts.handled[queue] += len(done)
        if 0 < len(messages) < 10:
            time.sleep(RECEIVE_LINGER)


def serve(port: int, counts: Counts) -> None:
    """/readyz and /metrics, for the benchmark."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = (counts.text() if self.path == "/metrics" else "ok").encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def main() -> None:
    """Read the worker's environment once, start one thread per queue, serve the counts."""
    session = boto3.session.Session(region_name=os.environ["AWS_REGION"])
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    secret = json.loads(session.client("secretsmanager", endpoint_url=endpoint).get_secret_value(
        SecretId=os.environ["DB_SECRET_ARN"])["SecretString"])
    cache = redis.Redis.from_url(os.environ["CACHE_URL"])
    counts = Counts()
    for queue in HANDLERS:
        db = (os.environ["DB_PORT"], os.environ["DB_NAME"], secret)
        conns = {"writer": connect(os.environ["DB_WRITER_ENDPOINT"], *db, preparing=True),
                 "reader": connect(os.environ["DB_READER_ENDPOINT"], *db),
                 "evict": cache.register_script(_EVICT)}
        sqs = session.client("sqs", endpoint_url=endpoint)
        threading.Thread(target=consume, args=(queue, sqs, conns, counts), daemon=True).start()
    serve(int(os.environ["HEALTH_PORT"]), counts)


if __name__ == "__main__":
    main()
