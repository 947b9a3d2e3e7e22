"""The two consumers' decisions, without PostgreSQL: duplicate, stale, reject, confirm, and
an order short of one product among several."""

from __future__ import annotations

import uuid

import pytest

from order_platform.domain.model import OrderStatus
from order_platform.domain.stock import OrderMissing
from order_platform.service_layer.ports import PoisonMessage
from order_platform.service_layer.stock import (
    INVENTORY_CONSUMER,
    VALIDATION_CONSUMER,
    Outcome,
    deduct_stock,
    validate_stock,
)
from tests.unit.fakes import FakeReadModel, FakeUnitOfWork, Store

KB, MS = "p-keyboard", "p-mouse"


def _order(store: Store, status: OrderStatus, **lines: int) -> tuple[str, dict]:
    order_id = str(uuid.uuid4())
    rows = [{"product_id": {"kb": KB, "ms": MS}[name], "quantity": qty, "unit_price_cents": 100}
            for name, qty in lines.items()]
    store.orders[order_id] = status
    store.lines[order_id] = rows
    return order_id, {"order_id": order_id, "lines": rows}


def _validate(store: Store, detail: dict, **reader) -> Outcome:
    """``validate_stock`` of event e1 on a new unit of work, with a reader of ``reader``."""
    return validate_stock(FakeUnitOfWork(store), FakeReadModel(store, **reader), "e1", detail)


@pytest.fixture
def store() -> Store:
    return Store(stock={KB: 5, MS: 2})


def test_enough_stock_validates_and_stages_stock_validated(store):
    order_id, detail = _order(store, OrderStatus.PENDING, kb=2, ms=1)
    uow = FakeUnitOfWork(store)
    assert validate_stock(uow, FakeReadModel(store), "e1", detail) is Outcome.STOCK_VALIDATED
    assert store.orders[order_id] is OrderStatus.STOCK_VALIDATED
    assert store.events == [("StockValidated", {"order_id": order_id, "lines": detail["lines"]})]
    assert store.stock == {KB: 5, MS: 2}  # validation takes nothing
    assert (VALIDATION_CONSUMER, "e1") in store.processed


def test_a_second_delivery_is_a_duplicate_with_no_effect(store):
    order_id, detail = _order(store, OrderStatus.PENDING, kb=1)
    uow, reads = FakeUnitOfWork(store), FakeReadModel(store)
    validate_stock(uow, reads, "e1", detail)
    events = list(store.events)
    assert validate_stock(uow, reads, "e1", detail) is Outcome.DUPLICATE
    assert store.events == events
    assert store.history[order_id] == [(OrderStatus.STOCK_VALIDATED, None)]


def test_an_event_for_an_order_past_its_status_is_stale_but_recorded(store):
    _, detail = _order(store, OrderStatus.CONFIRMED, kb=1)
    assert _validate(store, detail) is Outcome.STALE
    assert store.events == []
    assert (VALIDATION_CONSUMER, "e1") in store.processed  # the redelivery will be a duplicate


def test_a_shortage_the_writer_confirms_rejects_with_the_reason(store):
    order_id, detail = _order(store, OrderStatus.PENDING, kb=1, ms=3)
    assert _validate(store, detail) is Outcome.REJECTED
    assert store.orders[order_id] is OrderStatus.REJECTED
    assert store.history[order_id] == [
        (OrderStatus.REJECTED, f"insufficient_stock: {MS}: requested 3, available 2")]
    (name, event), = store.events
    assert name == "OrderRejected" and event["reason"] == "insufficient_stock"
    assert [d["product_id"] for d in event["details"]] == [MS]


def test_a_lagging_reader_cannot_reject_an_order_the_writer_can_fill(store):
    _, detail = _order(store, OrderStatus.PENDING, kb=4)
    # The reader as it was before a restock.
    assert _validate(store, detail, stock={KB: 0, MS: 2}) is Outcome.STOCK_VALIDATED


@pytest.mark.parametrize(("writer_stock", "outcome"), [(5, Outcome.STOCK_VALIDATED),
                                                       (1, Outcome.REJECTED)])
def test_with_the_reader_down_the_writer_decides_alone(store, writer_stock, outcome):
    store.stock[KB] = writer_stock
    _, detail = _order(store, OrderStatus.PENDING, kb=3)
    assert _validate(store, detail, down=True) is outcome


def test_an_unknown_product_rejects_as_unknown(store):
    order_id, detail = _order(store, OrderStatus.PENDING, kb=1)
    detail["lines"].append({"product_id": "p-gone", "quantity": 1})
    assert _validate(store, detail) is Outcome.REJECTED
    assert store.history[order_id][-1][1].startswith("unknown_product: product p-gone")


def test_a_missing_order_raises_and_records_nothing(store):
    detail = {"order_id": "nope", "lines": [{"product_id": KB, "quantity": 1}]}
    uow = FakeUnitOfWork(store)
    with pytest.raises(OrderMissing):
        validate_stock(uow, FakeReadModel(store), "e1", detail)
    assert store.processed == set()  # rolled back: the retry is not a "duplicate"
    assert uow.committed == 0


@pytest.mark.parametrize("detail", [
    {"lines": [{"product_id": KB, "quantity": 1}]},
    {"order_id": "o", "lines": []},
    {"order_id": "o", "lines": [{"product_id": KB}]},
    {"order_id": "o", "lines": [{"product_id": KB, "quantity": 0}]},
])
def test_a_malformed_detail_is_poison(store, detail):
    with pytest.raises(PoisonMessage):
        _validate(store, detail)


def test_deduction_takes_every_line_and_confirms(store):
    order_id, detail = _order(store, OrderStatus.STOCK_VALIDATED, kb=2, ms=2)
    assert deduct_stock(FakeUnitOfWork(store), "e2", detail) is Outcome.CONFIRMED
    assert store.stock == {KB: 3, MS: 0}
    assert store.orders[order_id] is OrderStatus.CONFIRMED
    assert store.events[-1][0] == "InventoryUpdated"
    assert (INVENTORY_CONSUMER, "e2") in store.processed


def test_a_partial_shortage_takes_nothing_and_rejects(store):
    order_id, detail = _order(store, OrderStatus.STOCK_VALIDATED, kb=2, ms=3)
    assert deduct_stock(FakeUnitOfWork(store), "e2", detail) is Outcome.REJECTED
    assert store.stock == {KB: 5, MS: 2}  # the keyboard line that fitted was not taken
    assert store.orders[order_id] is OrderStatus.REJECTED
    assert store.events[-1][0] == "OrderRejected"


def test_deduction_reads_the_orders_own_lines_not_the_events(store):
    _, detail = _order(store, OrderStatus.STOCK_VALIDATED, kb=1)
    tampered = {**detail, "lines": [{"product_id": KB, "quantity": 5}]}
    assert deduct_stock(FakeUnitOfWork(store), "e2", tampered) is Outcome.CONFIRMED
    assert store.stock[KB] == 4


def test_deduction_is_stale_unless_validated_and_applied_once(store):
    _, pending = _order(store, OrderStatus.PENDING, kb=1)
    uow = FakeUnitOfWork(store)
    assert deduct_stock(uow, "e3", pending) is Outcome.STALE
    _, validated = _order(store, OrderStatus.STOCK_VALIDATED, kb=1)
    assert deduct_stock(uow, "e4", validated) is Outcome.CONFIRMED
    assert deduct_stock(uow, "e4", validated) is Outcome.DUPLICATE
    assert store.stock[KB] == 4
