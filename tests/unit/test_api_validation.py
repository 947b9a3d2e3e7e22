"""Request validation of both APIs, exercised on the schemas directly (no HTTP, no I/O)."""

from __future__ import annotations

import uuid

import pytest
from marshmallow import ValidationError

from order_platform.domain.catalog import RestockMode
from order_platform.domain.model import OrderStatus
from order_platform.domain.orders import OrderItem
from order_platform.entrypoints.read_api.schemas import OrderListQuery, ProductListQuery
from order_platform.entrypoints.write_api.schemas import (
    IdempotencyHeaders,
    OrderIn,
    ProductIn,
    RestockIn,
)
from order_platform.service_layer import pagination

PID = str(uuid.uuid4())


def _errors(schema, data) -> dict:
    with pytest.raises(ValidationError) as caught:
        schema.load(data)
    return caught.value.messages


def test_a_valid_order_loads_into_domain_items():
    order = OrderIn().load({"items": [
        {"product_id": PID, "quantity": 2}, {"sku": "KB-001", "quantity": 10_000}]})
    assert order == {"items": [
        OrderItem(quantity=2, product_id=uuid.UUID(PID)), OrderItem(quantity=10_000, sku="KB-001")]}


@pytest.mark.parametrize("item", [
    {"quantity": 1},                                   # neither reference
    {"product_id": PID, "sku": "KB-001", "quantity": 1},  # both
    {"product_id": PID, "quantity": 0},
    {"product_id": PID, "quantity": -3},
    {"product_id": PID, "quantity": 10_001},
    {"product_id": PID, "quantity": 2**31},
    {"product_id": PID, "quantity": 10**30},
    {"product_id": PID, "quantity": 1.5},
    {"product_id": PID, "quantity": 10_001.0},
    {"product_id": PID, "quantity": "2"},
    {"product_id": PID, "quantity": True},
    {"product_id": PID, "quantity": None},
    {"product_id": PID, "quantity": float("inf")},
    {"product_id": PID, "quantity": float("nan")},
    {"product_id": "not-a-uuid", "quantity": 1},
    {"product_id": None, "quantity": 1},
    {"product_id": 12, "quantity": 1},
    {"sku": "", "quantity": 1},
    {"sku": "A\x00", "quantity": 1},
    {"sku": "x" * 65, "quantity": 1},
    {"sku": PID, "quantity": 1},  # a SKU may not look like an id
    {"sku": ["KB-001"], "quantity": 1},
    {"sku": "KB-001", "quantity": 1, "price_cents": 1},  # clients do not set prices
])
def test_invalid_items_are_rejected(item):
    errors = _errors(OrderIn(), {"items": [item]})
    assert set(errors) == {"items"}


def test_a_whole_number_written_with_a_fraction_is_an_integer():
    # JSON Schema's ``type: integer`` (the OpenAPI document) accepts 2.0; so does the API.
    order = OrderIn().load({"items": [{"sku": "A", "quantity": 2.0}]})
    assert order["items"][0].quantity == 2
    assert type(order["items"][0].quantity) is int
    product = ProductIn().load({"sku": "A", "name": "n", "price_cents": 1250.0, "stock": 3.0})
    assert (product["price_cents"], product["stock"]) == (1250, 3)
    assert RestockIn().load({"mode": "add", "quantity": 1e3})["quantity"] == 1000


@pytest.mark.parametrize("customer_id", ["", "c" * 129, "a\x00b", "\ud800", "tab\there", "\x7f",
                                         None, 42, ["c"], {"id": "c"}])
def test_invalid_customer_filters_are_rejected(customer_id):
    assert set(_errors(OrderListQuery(), {"customer_id": customer_id})) == {"customer_id"}


@pytest.mark.parametrize("customer_id", ["c", "c" * 128, "客户-7", "émilie@example.com", "😀"])
def test_unicode_customer_filters_are_fine(customer_id):
    assert OrderListQuery().load({"customer_id": customer_id})["customer_id"] == customer_id


def test_an_order_body_cannot_name_its_customer():
    # The customer is the token's subject: a body that names one is refused, not obeyed.
    errors = _errors(OrderIn(), {"customer_id": "someone-else",
                                 "items": [{"sku": "A", "quantity": 1}]})
    assert errors == {"customer_id": ["Unknown field."]}


@pytest.mark.parametrize("items", [[], None, "x", {}, [{"sku": f"S{i}", "quantity": 1}
                                                      for i in range(101)]])
def test_items_must_be_a_list_of_1_to_100(items):
    assert "items" in _errors(OrderIn(), {"items": items})


def test_unknown_fields_are_rejected():
    errors = _errors(OrderIn(), {"items": [{"sku": "A", "quantity": 1}],
                                 "total_cents": 1})
    assert errors == {"total_cents": ["Unknown field."]}


@pytest.mark.parametrize("body, field", [
    ({"sku": "A", "name": "n", "price_cents": -1}, "price_cents"),
    ({"sku": "A", "name": "n", "price_cents": 2**31}, "price_cents"),
    ({"sku": "A", "name": "n", "price_cents": 9.99}, "price_cents"),
    ({"sku": "A", "name": "n", "price_cents": True}, "price_cents"),
    ({"sku": "A", "name": "n", "price_cents": 1e300}, "price_cents"),
    ({"sku": "A", "name": "n", "price_cents": 1, "stock": -1}, "stock"),
    ({"sku": "A", "name": "", "price_cents": 1}, "name"),
    ({"sku": "A", "name": "x" * 201, "price_cents": 1}, "name"),
    ({"sku": "A", "name": "n\x00", "price_cents": 1}, "name"),
    ({"sku": "A B", "name": "n", "price_cents": 1}, "sku"),
    ({"name": "n", "price_cents": 1}, "sku"),
])
def test_invalid_products_are_rejected(body, field):
    assert field in _errors(ProductIn(), body)


def test_restock_modes():
    assert RestockIn().load({"mode": "set", "quantity": 0}) == {"mode": RestockMode.SET,
                                                                "quantity": 0}
    assert RestockIn().load({"mode": "add", "quantity": 5})["mode"] is RestockMode.ADD
    assert "quantity" in _errors(RestockIn(), {"mode": "add", "quantity": 0})
    assert "quantity" in _errors(RestockIn(), {"mode": "set", "quantity": -1})
    assert "mode" in _errors(RestockIn(), {"mode": "SET", "quantity": 1})


@pytest.mark.parametrize("key", ["", " ", "a b", "x" * 256, "é", "\x00"])
def test_idempotency_keys_are_printable_ascii(key):
    assert "Idempotency-Key" in _errors(IdempotencyHeaders(), {"Idempotency-Key": key})


def test_list_query_defaults_and_bounds():
    assert OrderListQuery().load({}) == {"limit": 20}
    loaded = OrderListQuery().load({"status": "CONFIRMED", "limit": "100"})
    assert loaded == {"status": OrderStatus.CONFIRMED, "limit": 100}
    for limit in ("0", "101", "-1", "x", "1.5", "9" * 5000):
        assert "limit" in _errors(OrderListQuery(), {"limit": limit})
    assert "limit" in _errors(ProductListQuery(), {"limit": "0"})


def test_a_cursor_must_match_the_filters_it_was_issued_for():
    scope = pagination.scope_of(customer_id="c", status=None)
    token = pagination.encode(pagination.Cursor(kind="orders", after=10, scope=scope))
    assert OrderListQuery().load({"customer_id": "c", "cursor": token})["cursor"].after == 10
    assert "cursor" in _errors(OrderListQuery(), {"customer_id": "d", "cursor": token})
    assert "cursor" in _errors(OrderListQuery(), {"cursor": token})
    assert "cursor" in _errors(ProductListQuery(), {"cursor": token})
