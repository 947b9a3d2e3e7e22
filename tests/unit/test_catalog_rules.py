"""SKU rules and /products/{id|sku} references."""

from __future__ import annotations

import uuid

import pytest

from order_platform.domain.catalog import ProductRef, sku_problem


@pytest.mark.parametrize("sku", ["A", "KB-001", "mug.blue_2", "9" * 64,
                                 uuid.uuid4().hex])  # 32 hex digits without dashes are fine
def test_valid_skus(sku):
    assert sku_problem(sku) is None


@pytest.mark.parametrize("sku", ["", "-A", ".A", "a b", "x" * 65, "ä", "A\x00", "A/B",
                                 str(uuid.uuid4()), str(uuid.uuid4()).upper()])
def test_invalid_skus(sku):
    assert sku_problem(sku)


def test_a_uuid_reference_is_an_id_and_anything_else_valid_is_a_sku():
    product_id = uuid.uuid4()
    assert ProductRef.parse(str(product_id)) == ProductRef(product_id=product_id)
    assert ProductRef.parse(str(product_id).upper()) == ProductRef(product_id=product_id)
    assert ProductRef.parse("KB-001") == ProductRef(sku="KB-001")


@pytest.mark.parametrize("text", ["", "\x00", "a b", "x" * 65, "{" + str(uuid.uuid4()) + "}"])
def test_a_reference_that_is_neither_is_none(text):
    assert ProductRef.parse(text) is None
