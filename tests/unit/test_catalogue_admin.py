"""Creating products and restocking on the persistence port's fakes: each change with its
event, or neither."""

from __future__ import annotations

import pytest

from order_platform.domain.catalog import MAX_STOCK, RestockMode
from order_platform.domain.errors import ProductNotFound, SkuAlreadyExists, StockOutOfRange
from order_platform.service_layer.products import create_product, restock
from tests.unit.fakes import FakeUnitOfWork, Store


def test_a_new_product_is_stored_and_announced():
    store = Store()
    product = create_product(FakeUnitOfWork(store), sku="MUG", name="Mug", price_cents=800,
                             stock=5)
    assert store.stock[str(product["id"])] == 5
    assert store.events == [("ProductCreated", {"product_id": str(product["id"]), "sku": "MUG",
                                                "name": "Mug", "price_cents": 800, "stock": 5})]


def test_a_taken_sku_is_refused_and_announces_nothing():
    store = Store()
    store.add_product("MUG")
    with pytest.raises(SkuAlreadyExists):
        create_product(FakeUnitOfWork(store), sku="MUG", name="Mug", price_cents=1, stock=1)
    assert store.events == []


@pytest.mark.parametrize(("mode", "quantity", "stock"), [(RestockMode.SET, 3, 3),
                                                          (RestockMode.ADD, 3, 13)])
def test_restock_by_sku_or_id_sets_or_adds_and_announces(mode, quantity, stock):
    store = Store()
    product_id = store.add_product("MUG", stock=10)
    for ref in ("MUG", product_id):
        store.stock[product_id] = 10
        product = restock(FakeUnitOfWork(store), ref, mode, quantity)
        assert product["stock"] == store.stock[product_id] == stock
        name, detail = store.events[-1]
        assert name == "ProductRestocked"
        assert (detail["mode"], detail["quantity"], detail["stock"]) == (mode.value, quantity,
                                                                         stock)


def test_adding_past_the_maximum_is_refused_with_the_stock_it_has():
    store = Store()
    product_id = store.add_product("MUG", stock=MAX_STOCK - 1)
    with pytest.raises(StockOutOfRange) as refused:
        restock(FakeUnitOfWork(store), "MUG", RestockMode.ADD, 2)
    assert refused.value.details["stock"] == MAX_STOCK - 1
    assert store.stock[product_id] == MAX_STOCK - 1 and store.events == []


@pytest.mark.parametrize(("ref", "may_appear"), [("NOPE", True), ("not a sku!", False)])
def test_an_unknown_or_malformed_product_is_not_found(ref, may_appear):
    with pytest.raises(ProductNotFound) as missing:
        restock(FakeUnitOfWork(Store()), ref, RestockMode.SET, 1)
    assert missing.value.may_appear is may_appear
