"""The read side's queries on a fake read model: an order with its line totals, pages that
follow their cursor, what is not found (yet, or ever), and who may read which orders."""

from __future__ import annotations

import uuid

import pytest

from order_platform.domain.access import Caller, Role
from order_platform.domain.errors import OrderNotFound, ProductNotFound
from order_platform.domain.orders import OrderItem
from order_platform.service_layer import order_queries, pagination, product_queries
from order_platform.service_layer.orders import place_order
from tests.unit.fakes import FakeReadModel, FakeUnitOfWork, Store

ALICE, BOB = Caller("alice"), Caller("bob")
SUPPORT = Caller("agent-7", frozenset({Role.SUPPORT}))


@pytest.fixture
def store() -> Store:
    store = Store()
    for sku in ("A-1", "B-2", "C-3"):
        store.add_product(sku, price_cents=250)
    return store


def _place(store: Store, customer: str, quantity: int = 1) -> str:
    placed = place_order(FakeUnitOfWork(store), customer, [OrderItem(quantity, sku="A-1")])
    return str(placed.receipt.order_id)


def test_an_order_comes_with_its_line_totals(store):
    order_id = _place(store, "alice", quantity=3)
    order = order_queries.get_order(FakeReadModel(store), uuid.UUID(order_id), ALICE)
    assert [(ln["sku"], ln["line_total_cents"]) for ln in order["lines"]] == [("A-1", 750)]
    assert [h["status"] for h in order["history"]] == ["PENDING"]


def test_an_order_the_reader_lacks_is_not_found_yet(store):
    with pytest.raises(OrderNotFound) as missing:
        order_queries.get_order(FakeReadModel(store), uuid.uuid4(), SUPPORT)
    assert missing.value.may_appear


def test_order_pages_follow_their_cursor_newest_first_within_the_filter(store):
    mine = [_place(store, "alice") for _ in range(5)]
    _place(store, "bob")
    reads = FakeReadModel(store)
    filters = order_queries.OrderFilters(customer_id="alice")
    seen, cursor = [], None
    for _ in range(10):  # bounded
        page = order_queries.list_orders(reads, filters, SUPPORT, limit=2, cursor=cursor)
        seen += [str(row["id"]) for row in page.items]
        if page.next_cursor is None:
            break
        cursor = pagination.decode(page.next_cursor, "orders")
        assert cursor.scope == filters.scope()
    assert seen == mine[::-1]


def test_product_pages_follow_their_cursor_in_sku_order(store):
    reads = FakeReadModel(store)
    first = product_queries.list_products(reads, limit=2)
    assert [p["sku"] for p in first.items] == ["A-1", "B-2"] and first.next_cursor
    rest = product_queries.list_products(
        reads, limit=2, cursor=pagination.decode(first.next_cursor, "products"))
    assert [p["sku"] for p in rest.items] == ["C-3"] and rest.next_cursor is None


def test_a_product_is_found_by_sku_or_id_and_a_malformed_one_never(store):
    reads = FakeReadModel(store)
    product = product_queries.get_product(reads, "B-2")
    assert product_queries.get_product(reads, str(product["id"]))["sku"] == "B-2"
    with pytest.raises(ProductNotFound) as missing:
        product_queries.get_product(reads, "no such sku!")
    assert not missing.value.may_appear


def test_a_customer_reads_their_own_orders_and_support_reads_all(store):
    alices = uuid.UUID(_place(store, "alice"))
    reads = FakeReadModel(store)
    assert order_queries.get_order(reads, alices, ALICE)["customer_id"] == "alice"
    assert order_queries.get_order(reads, alices, SUPPORT)["customer_id"] == "alice"
    with pytest.raises(OrderNotFound) as hidden:  # the same answer as an order that is not there
        order_queries.get_order(reads, alices, BOB)
    assert hidden.value.may_appear


def test_a_customer_lists_only_their_own_orders(store):
    alices = {_place(store, "alice") for _ in range(2)}
    bobs = {_place(store, "bob")}
    reads = FakeReadModel(store)

    def listed(caller: Caller, customer: str | None = None) -> set[str]:
        page = order_queries.list_orders(reads, order_queries.OrderFilters(customer), caller,
                                         limit=10)
        return {str(row["id"]) for row in page.items}

    assert listed(ALICE) == listed(ALICE, "alice") == alices
    assert listed(ALICE, "bob") == set()  # another customer's filter: an empty page
    assert listed(BOB) == bobs
    assert listed(SUPPORT) == alices | bobs and listed(SUPPORT, "bob") == bobs
