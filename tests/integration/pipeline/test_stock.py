"""Stock validation and inventory update on a real PostgreSQL: effects exactly once."""

from __future__ import annotations

import random
import threading
import uuid

import psycopg2
import pytest

from order_platform.adapters import aws, processed_events
from order_platform.adapters.credentials import SecretsManagerCredentials
from order_platform.adapters.db import Database
from order_platform.adapters.schema import apply_migrations
from order_platform.domain.stock import OrderMissing
from order_platform.service_layer import stock
from order_platform.service_layer.stock import Outcome
from tests.integration.pipeline.harness import (
    ROLE,
    ROLE_PASSWORD,
    update_inventory,
    validate_order_stock,
)


def _created_event(pipeline, order_id: str) -> tuple[str, dict]:
    row = next(r for r in pipeline.outbox("OrderCreated")
               if r["detail"]["order_id"] == order_id)
    return str(row["event_id"]), row["detail"]


def _validated(pipeline, order_id: str) -> tuple[str, dict]:
    """Run validation so the order is STOCK_VALIDATED; return the StockValidated event."""
    writer = pipeline.database(size=2)
    assert validate_order_stock(writer, writer, *_created_event(pipeline, order_id)) \
        is Outcome.STOCK_VALIDATED
    row = next(r for r in pipeline.outbox("StockValidated")
               if r["detail"]["order_id"] == order_id)
    return str(row["event_id"]), row["detail"]


def test_validation_moves_to_stock_validated_with_history_and_event(pipeline):
    product = pipeline.add_product(stock=5)
    order_id = pipeline.place_order([(product, 2)])
    writer, reader = pipeline.database(), pipeline.database(reader=True)

    event_id, detail = _created_event(pipeline, order_id)
    assert validate_order_stock(writer, reader, event_id, detail) is Outcome.STOCK_VALIDATED
    for _ in range(3):  # redeliveries
        assert validate_order_stock(writer, reader, event_id, detail) is Outcome.DUPLICATE

    assert pipeline.order(order_id)["status"] == "STOCK_VALIDATED"
    assert pipeline.history(order_id) == ["PENDING", "STOCK_VALIDATED"]
    validated = pipeline.outbox("StockValidated")
    assert [r["detail"]["order_id"] for r in validated] == [order_id]
    assert validated[0]["detail"]["lines"][0]["quantity"] == 2
    assert pipeline.stock(product) == 5, "validation never deducts stock"
    assert pipeline.processed(stock.VALIDATION_CONSUMER) == [event_id]


def test_validation_rejects_insufficient_stock_with_reason(pipeline):
    product = pipeline.add_product(stock=1)
    order_id = pipeline.place_order([(product, 3)])
    writer = pipeline.database()

    assert validate_order_stock(writer, writer, *_created_event(pipeline, order_id)) \
        is Outcome.REJECTED

    order = pipeline.order(order_id)
    assert order["status"] == "REJECTED"
    assert order["rejection_reason"].startswith("insufficient_stock:")
    assert "requested 3, available 1" in order["rejection_reason"]
    assert pipeline.history(order_id) == ["PENDING", "REJECTED"]
    (rejected,) = pipeline.outbox("OrderRejected")
    assert rejected["detail"]["reason"] == "insufficient_stock"
    assert rejected["detail"]["details"][0]["available"] == 1
    assert pipeline.outbox("StockValidated") == []


def test_a_lagging_reader_cannot_reject_an_order_the_writer_can_fill(pipeline, pg_server):
    """The reader is advisory: its 'no' is checked on the writer before it is final."""
    product = pipeline.add_product(stock=5)
    order_id = pipeline.place_order([(product, 2)])
    # A stale replica: another database in which the same product still has 0 units.
    stale = f"{pipeline.settings.db_name}_stale"
    pg_server.ensure_role_and_database(role=ROLE, password=ROLE_PASSWORD, dbname=stale)
    apply_migrations(host="127.0.0.1", port=pg_server.port, dbname=stale, user=ROLE,
                     password=ROLE_PASSWORD, ssl_root_cert=str(pg_server.ca_file))
    conn = psycopg2.connect(**pg_server.superuser_dsn())
    conn.autocommit = True
    stale_reader = Database(
        host="127.0.0.1", port=pg_server.port, dbname=stale, max_connections=1, readonly=True,
        ssl_root_cert=str(pg_server.ca_file),
        credentials=SecretsManagerCredentials(aws.client("secretsmanager", pipeline.settings),
                                              pipeline.settings.db_secret_arn))
    try:
        stale_conn = psycopg2.connect(**pg_server.superuser_dsn(stale))
        stale_conn.autocommit = True
        with stale_conn.cursor() as cur:
            cur.execute("INSERT INTO products (id, sku, name, price_cents, stock) "
                        "VALUES (%s, 'STALE', 'stale', 1, 0)", (product,))
        stale_conn.close()
        outcome = validate_order_stock(pipeline.database(), stale_reader,
                                       *_created_event(pipeline, order_id))
    finally:
        stale_reader.close()
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE "{stale}" WITH (FORCE)')
        conn.close()
    assert outcome is Outcome.STOCK_VALIDATED
    assert pipeline.order(order_id)["status"] == "STOCK_VALIDATED"


def test_inventory_update_deducts_every_line_once_and_confirms(pipeline):
    a, b = pipeline.add_product(stock=10), pipeline.add_product(stock=4)
    order_id = pipeline.place_order([(a, 3), (b, 4)])
    event_id, detail = _validated(pipeline, order_id)
    writer = pipeline.database()

    assert update_inventory(writer, event_id, detail) is Outcome.CONFIRMED
    assert update_inventory(writer, event_id, detail) is Outcome.DUPLICATE

    assert (pipeline.stock(a), pipeline.stock(b)) == (7, 0)
    assert pipeline.order(order_id)["status"] == "CONFIRMED"
    assert pipeline.history(order_id) == ["PENDING", "STOCK_VALIDATED", "CONFIRMED"]
    (updated,) = pipeline.outbox("InventoryUpdated")
    assert updated["detail"]["order_id"] == order_id
    assert sum(line["quantity"] for line in updated["detail"]["lines"]) == 7


def test_inventory_update_is_all_or_nothing(pipeline):
    a, b = pipeline.add_product(stock=10), pipeline.add_product(stock=5)
    order_id = pipeline.place_order([(a, 2), (b, 5)])
    event_id, detail = _validated(pipeline, order_id)
    pipeline.query("UPDATE products SET stock = 4 WHERE id = %s", (b,))  # sold meanwhile

    assert update_inventory(pipeline.database(), event_id, detail) is Outcome.REJECTED

    assert (pipeline.stock(a), pipeline.stock(b)) == (10, 4), "no line may be deducted"
    order = pipeline.order(order_id)
    assert order["status"] == "REJECTED"
    assert "requested 5, available 4" in order["rejection_reason"]
    assert pipeline.history(order_id) == ["PENDING", "STOCK_VALIDATED", "REJECTED"]
    (rejected,) = pipeline.outbox("OrderRejected")
    assert rejected["detail"]["reason"] == "insufficient_stock"
    assert [d["product_id"] for d in rejected["detail"]["details"]] == [b]
    assert pipeline.outbox("InventoryUpdated") == []


def test_an_event_for_an_order_in_another_status_has_no_effect(pipeline):
    product = pipeline.add_product(stock=5)
    order_id = pipeline.place_order([(product, 1)])
    event_id, detail = _created_event(pipeline, order_id)
    # A StockValidated for an order that is still PENDING (out-of-order delivery).
    assert update_inventory(pipeline.database(), str(uuid.uuid4()), detail) \
        is Outcome.STALE
    assert pipeline.stock(product) == 5
    assert pipeline.order(order_id)["status"] == "PENDING"
    assert validate_order_stock(pipeline.database(), pipeline.database(), event_id,
                                detail) is Outcome.STOCK_VALIDATED


def test_same_event_on_many_threads_at_once_is_applied_once(pipeline):
    product = pipeline.add_product(stock=10)
    order_id = pipeline.place_order([(product, 3)])
    event_id, detail = _validated(pipeline, order_id)
    writer = pipeline.database(size=8)
    outcomes: list[Outcome] = []
    barrier = threading.Barrier(8)

    def deliver():
        barrier.wait(10)
        outcomes.append(update_inventory(writer, event_id, detail))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert sorted(outcomes) == sorted([Outcome.CONFIRMED] + [Outcome.DUPLICATE] * 7)
    assert pipeline.stock(product) == 7
    assert pipeline.history(order_id).count("CONFIRMED") == 1


def test_orders_sharing_products_in_any_line_order_neither_deadlock_nor_oversell(pipeline):
    products = [pipeline.add_product(stock=6) for _ in range(3)]
    writer = pipeline.database(size=10)
    rng = random.Random(7)
    events = []
    for _ in range(20):
        lines = [(p, 1) for p in rng.sample(products, k=3)]  # random line order
        events.append(_validated(pipeline, pipeline.place_order(lines, db=writer)))
    outcomes: list[Outcome] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(events))

    def deliver(event):
        barrier.wait(30)
        try:
            outcomes.append(update_inventory(writer, *event))
        except BaseException as exc:  # a deadlock would surface here
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(e,)) for e in events]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert errors == []
    assert outcomes.count(Outcome.CONFIRMED) == 6
    assert outcomes.count(Outcome.REJECTED) == 14
    assert [pipeline.stock(p) for p in products] == [0, 0, 0]


def test_malformed_detail_is_poison(pipeline):
    from order_platform.adapters.queues import PoisonMessage

    with pytest.raises(PoisonMessage):
        validate_order_stock(pipeline.database(), pipeline.database(), str(uuid.uuid4()),
                             {"order_id": str(uuid.uuid4()), "lines": "nope"})
    with pytest.raises(PoisonMessage):
        update_inventory(pipeline.database(), str(uuid.uuid4()), {"lines": []})


def test_an_event_for_an_order_the_writer_does_not_have_claims_nothing(pipeline):
    event_id, order_id = str(uuid.uuid4()), str(uuid.uuid4())
    detail = {"order_id": order_id, "lines": [{"product_id": str(uuid.uuid4()), "quantity": 1}]}
    with pytest.raises(OrderMissing):
        update_inventory(pipeline.database(), event_id, detail)
    # The claim itself writes nothing without the order (not only because the handler's
    # error rolls it back): committed, it leaves no row.
    with pipeline.database().session() as session:
        row = session.execute(processed_events.CLAIM_ORDER,
                              (order_id, "claim-probe", event_id)).one()
        assert row == {"status": None, "first": False}
        session.commit()
    assert pipeline.processed("claim-probe") == []
    assert event_id not in pipeline.processed(stock.INVENTORY_CONSUMER)
