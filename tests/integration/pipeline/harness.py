"""A private pipeline per test: its own database, bus and queues on the shared servers.

The relay publishes every unpublished outbox row of its database, so a test that runs
one must not share the database (or the queues) with other tests.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg2
import psycopg2.extras

from order_local import provision
from order_platform import topology
from order_platform.adapters import aws
from order_platform.adapters.credentials import SecretsManagerCredentials
from order_platform.adapters.db import Database
from order_platform.adapters.event_bus import EventBus
from order_platform.adapters.read_model import SqlReadModel
from order_platform.adapters.schema import apply_migrations
from order_platform.adapters.unit_of_work import SqlUnitOfWork
from order_platform.config import Settings, load_settings
from order_platform.domain.orders import OrderItem
from order_platform.service_layer import stock
from order_platform.service_layer.orders import place_order
from tests.support import tokens

ROLE = "pipeline_app"
"""Not the shared fixtures' role: creating a database sets the role's password."""
ROLE_PASSWORD = uuid.uuid4().hex
"""One password per test session, so every private database's secret stays valid."""


def wait_until(check: Callable[[], Any], *, timeout: float = 60, interval: float = 0.1,
               what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def validate_order_stock(writer: Database, reader: Database, event_id: str,
                         detail: dict[str, Any]) -> stock.Outcome:
    """The OrderCreated consumer's decision on PostgreSQL (the worker's composition)."""
    return stock.validate_stock(SqlUnitOfWork(writer), SqlReadModel(reader), event_id, detail)


def update_inventory(writer: Database, event_id: str, detail: dict[str, Any]) -> stock.Outcome:
    """The StockValidated consumer's decision on PostgreSQL (the worker's composition)."""
    return stock.deduct_stock(SqlUnitOfWork(writer), event_id, detail)


@dataclass
class Pipeline:
    """Settings, pools and clients for one private database + topology."""

    env: dict[str, str]
    settings: Settings
    admin: Any  # superuser autocommit connection to the private database
    prefix: str
    drop_database: Callable[[], None] = lambda: None
    _pools: list[Database] = field(default_factory=list)

    # -- wiring -----------------------------------------------------------------
    def database(self, *, reader: bool = False, size: int = 8,
                 application_name: str = "order-platform") -> Database:
        """A pool on the private database (closed at teardown)."""
        creds = SecretsManagerCredentials(aws.client("secretsmanager", self.settings),
                                          self.settings.db_secret_arn)
        db = Database(host="127.0.0.1", port=self.settings.db_port,
                      dbname=self.settings.db_name, credentials=creds,
                      ssl_root_cert=self.settings.db_ssl_root_cert,
                      max_connections=size, readonly=reader, application_name=application_name)
        self._pools.append(db)
        return db

    def bearer(self, customer: str, *roles: str) -> dict[str, str]:
        """An Authorization header the pipeline's APIs accept (see ``tests.support.tokens``)."""
        return tokens.bearer(self.settings, customer, *roles)

    def sqs(self):
        """An SQS client on the emulator."""
        return aws.client("sqs", self.settings)

    def events(self):
        """An EventBridge client on the emulator."""
        return aws.client("events", self.settings)

    def bus(self, events_client=None) -> EventBus:
        """The private bus."""
        return EventBus(events_client or self.events(), self.settings.event_bus_name)

    def queue_url(self, queue: topology.Queue, kind: str = "queue") -> str:
        """URL of a topology queue, its DLQ ('dlq') or its rule-target DLQ ('target-dlq')."""
        if kind == "queue":
            return self.settings.queue_url(queue.url_env_var)
        name = (queue.dlq_name(self.prefix) if kind == "dlq"
                else topology.route_for_queue(queue).target_dlq_name(self.prefix))
        return self.sqs().get_queue_url(QueueName=name)["QueueUrl"]

    def set_visibility_timeout(self, seconds: int) -> None:
        """Shorten the visibility timeout of every topology queue (crash tests)."""
        sqs = self.sqs()
        for queue in topology.QUEUES:
            sqs.set_queue_attributes(QueueUrl=self.queue_url(queue),
                                     Attributes={"VisibilityTimeout": str(seconds)})

    def depth(self, url: str) -> tuple[int, int]:
        """(visible, in flight) messages of a queue."""
        attrs = self.sqs().get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return (int(attrs["ApproximateNumberOfMessages"]),
                int(attrs["ApproximateNumberOfMessagesNotVisible"]))

    # -- data -------------------------------------------------------------------
    def query(self, sql: str, params: tuple = ()) -> list[dict]:
        """Rows of a superuser query on the private database."""
        with self.admin.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(sql, params)
            return [dict(r) for r in cur.fetchall()] if cur.description else []

    def add_product(self, stock: int, price_cents: int = 1000) -> str:
        """A product with ``stock`` units; returns its id."""
        sku = f"SKU-{uuid.uuid4().hex[:10]}"
        return str(self.query(
            "INSERT INTO products (sku, name, price_cents, stock) VALUES (%s, %s, %s, %s) "
            "RETURNING id", (sku, f"product {sku}", price_cents, stock))[0]["id"])

    def place_order(self, lines: list[tuple[str, int]], db: Database | None = None) -> str:
        """An order placed through the write side's service layer; returns its id."""
        items = [OrderItem(quantity=q, product_id=uuid.UUID(p)) for p, q in lines]
        placed = place_order(SqlUnitOfWork(db or self.database(size=1)),
                             f"cust-{uuid.uuid4().hex[:6]}", items)
        return str(placed.receipt.order_id)

    def stock(self, product_id: str) -> int:
        """Current stock of a product."""
        return self.query("SELECT stock FROM products WHERE id = %s", (product_id,))[0]["stock"]

    def order(self, order_id: str) -> dict:
        """The order row."""
        return self.query("SELECT * FROM orders WHERE id = %s", (order_id,))[0]

    def history(self, order_id: str) -> list[str]:
        """The order's statuses in the order they were recorded."""
        return [r["status"] for r in self.query(
            "SELECT status FROM order_status_history WHERE order_id = %s ORDER BY id",
            (order_id,))]

    def outbox(self, event_type: str | None = None) -> list[dict]:
        """Outbox rows, optionally of one type, oldest first."""
        if event_type is None:
            return self.query("SELECT * FROM outbox ORDER BY id")
        return self.query("SELECT * FROM outbox WHERE event_type = %s ORDER BY id",
                          (event_type,))

    def processed(self, consumer: str) -> list[str]:
        """Event ids a consumer recorded as processed."""
        return [str(r["event_id"]) for r in self.query(
            "SELECT event_id FROM processed_events WHERE consumer = %s", (consumer,))]

    def envelope(self, outbox_row: dict, envelope_id: str | None = None) -> str:
        """The SQS body EventBridge would deliver for an outbox row."""
        return json.dumps({"version": "0", "id": envelope_id or str(uuid.uuid4()),
                           "detail-type": outbox_row["event_type"],
                           "source": outbox_row["source"], "detail": outbox_row["detail"]})

    def receive_all(self, url: str, *, expect: int, timeout: float = 30) -> list[dict]:
        """Receive (and delete) JSON messages until ``expect`` arrived or the deadline."""
        return [json.loads(b) for b in self.receive_all_raw(url, expect=expect, timeout=timeout)]

    def receive_all_raw(self, url: str, *, expect: int, timeout: float = 30) -> list[str]:
        """Receive (and delete) message bodies until ``expect`` arrived or the deadline."""
        sqs = self.sqs()
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while len(got) < expect and time.monotonic() < deadline:
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                         WaitTimeSeconds=1).get("Messages", []):
                got.append(m["Body"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return got

    def close(self) -> None:
        """Close pools and the admin connection, then drop the private database."""
        for db in self._pools:
            db.close()
        self.admin.close()
        self.drop_database()


def make_pipeline(pg_server, aws_endpoint: str, **extra_env: str) -> Pipeline:
    """Create a private database (migrated) and a private topology; return their Pipeline."""
    suffix = uuid.uuid4().hex[:8]
    dbname, password = f"pipe_{suffix}", ROLE_PASSWORD
    pg_server.ensure_role_and_database(role=ROLE, password=password, dbname=dbname)
    apply_migrations(host="127.0.0.1", port=pg_server.port, dbname=dbname, user=ROLE,
                     password=password, ssl_root_cert=str(pg_server.ca_file))
    local = provision.LocalAws(endpoint_url=aws_endpoint, prefix=f"pipe-{suffix}")
    env = {
        **provision.provision_contract(local, db_port=pg_server.port, db_name=dbname,
                                       db_user=ROLE, db_password=password,
                                       db_ssl_root_cert=str(pg_server.ca_file)),
        "WORKER_POLL_WAIT_SECONDS": "1",
        "LOG_LEVEL": "INFO",
        **extra_env,
    }
    admin = psycopg2.connect(**pg_server.superuser_dsn(dbname))
    admin.autocommit = True

    def drop() -> None:
        conn = psycopg2.connect(**pg_server.superuser_dsn())
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        finally:
            conn.close()

    return Pipeline(env=env, settings=load_settings(env), admin=admin, prefix=local.prefix,
                    drop_database=drop)

