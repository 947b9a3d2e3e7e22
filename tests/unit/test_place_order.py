"""Placing an order on the persistence port's fakes: one path with or without an
Idempotency-Key, everything committed together or nothing."""

from __future__ import annotations

import pytest

from order_platform.domain.errors import IdempotencyKeyReused, UnknownProducts
from order_platform.domain.model import OrderStatus
from order_platform.domain.orders import OrderItem
from order_platform.service_layer.orders import place_order
from tests.unit.fakes import FakeUnitOfWork, Store


@pytest.fixture
def store() -> Store:
    store = Store()
    store.add_product("KB-001", price_cents=2500)
    store.add_product("MUG", price_cents=800)
    return store


ITEMS = [OrderItem(quantity=2, sku="KB-001"), OrderItem(quantity=1, sku="MUG")]


def test_an_order_is_priced_stored_pending_and_announced_in_one_commit(store):
    uow = FakeUnitOfWork(store)
    placed = place_order(uow, "alice", ITEMS)
    receipt = placed.receipt
    assert not placed.replayed and uow.committed == 1
    assert receipt.total_cents == 2 * 2500 + 800 and receipt.status is OrderStatus.PENDING
    assert [(ln.line_no, ln.sku, ln.unit_price_cents) for ln in receipt.lines] == [
        (1, "KB-001", 2500), (2, "MUG", 800)]
    order_id = str(receipt.order_id)
    assert store.orders[order_id] is OrderStatus.PENDING
    assert store.history[order_id] == [(OrderStatus.PENDING, None)]
    (name, detail), = store.events
    assert name == "OrderCreated" and detail["order_id"] == order_id
    assert detail["total_cents"] == receipt.total_cents
    assert [line["quantity"] for line in detail["lines"]] == [2, 1]


def test_an_unknown_product_stores_nothing(store):
    uow = FakeUnitOfWork(store)
    with pytest.raises(UnknownProducts):
        place_order(uow, "alice", [*ITEMS, OrderItem(quantity=1, sku="NOPE")])
    assert (store.orders, store.events, uow.committed) == ({}, [], 0)


def test_a_repeat_with_the_same_key_replays_the_first_receipt(store):
    uow = FakeUnitOfWork(store)
    first = place_order(uow, "alice", ITEMS, idempotency_key="k-1")
    again = place_order(uow, "alice", ITEMS, idempotency_key="k-1")
    assert again.replayed and again.receipt == first.receipt
    assert len(store.orders) == 1 and len(store.events) == 1
    assert store.keys[("alice", "k-1")].order_id == first.receipt.order_id


def test_a_key_reused_with_another_request_is_refused_and_changes_nothing(store):
    uow = FakeUnitOfWork(store)
    first = place_order(uow, "alice", ITEMS, idempotency_key="k-2")
    with pytest.raises(IdempotencyKeyReused) as refused:
        place_order(uow, "alice", ITEMS[:1], idempotency_key="k-2")
    assert refused.value.details["order_id"] == str(first.receipt.order_id)
    assert len(store.orders) == 1 and len(store.events) == 1


def test_another_customer_with_the_same_key_gets_its_own_order(store):
    uow = FakeUnitOfWork(store)
    alices = place_order(uow, "alice", ITEMS, idempotency_key="k-3")
    bobs = place_order(uow, "bob", ITEMS[:1], idempotency_key="k-3")
    assert not bobs.replayed and bobs.receipt.customer_id == "bob"
    assert bobs.receipt.order_id != alices.receipt.order_id
    assert len(store.orders) == 2 and len(store.events) == 2
    # Each customer's repeat still replays its own order.
    assert place_order(uow, "bob", ITEMS[:1], idempotency_key="k-3").receipt == bobs.receipt


def test_without_a_key_two_identical_requests_are_two_orders(store):
    uow = FakeUnitOfWork(store)
    place_order(uow, "alice", ITEMS)
    place_order(uow, "alice", ITEMS)
    assert len(store.orders) == 2 and store.keys == {}
