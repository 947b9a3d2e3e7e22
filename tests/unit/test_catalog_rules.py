"""SKU rules and /products/{id|sku} references."""

from __future__ import annotations

import uuid

import pytest

from order_platform.domain.catalog import ProductRef, sku_problem

# Literal ids, not uuid4(): every pytest-xdist worker must collect the same test ids.
_AN_ID = "b4e8f1a2-6c3d-4f9e-8a7b-2d1c0e9f8a7b"


@pytest.mark.parametrize("sku", ["A", "KB-001", "mug.blue_2", "9" * 64,
                                 _AN_ID.replace("-", "")])  # 32 hex digits without dashes are fine
def test_valid_skus(sku):
    assert sku_problem(sku) is None


@pytest.mark.parametrize("sku", ["", "-A", ".A", "a b", "x" * 65, "ä", "A\x00", "A/B",
                                 _AN_ID, _AN_ID.upper()])
def test_invalid_skus(sku):
    assert sku_problem(sku)


def test_a_uuid_reference_is_an_id_and_anything_else_valid_is_a_sku():
    product_id = uuid.uuid4()
    assert ProductRef.parse(str(product_id)) == ProductRef(product_id=product_id)
    assert ProductRef.parse(str(product_id).upper()) == ProductRef(product_id=product_id)
    assert ProductRef.parse("KB-001") == ProductRef(sku="KB-001")


@pytest.mark.parametrize("text", ["", "\x00", "a b", "x" * 65, "{" + _AN_ID + "}"])
def test_a_reference_that_is_neither_is_none(text):
    assert ProductRef.parse(text) is None
