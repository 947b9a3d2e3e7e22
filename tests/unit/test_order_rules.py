"""Pricing an order from the catalogue, duplicate and unknown products, fingerprints."""

from __future__ import annotations

import uuid

import pytest

from order_platform.domain.errors import DuplicateProductLines, UnknownProducts
from order_platform.domain.orders import (
    CatalogEntry,
    OrderItem,
    order_total,
    price_lines,
    request_fingerprint,
)

MUG = CatalogEntry(product_id=uuid.uuid4(), sku="MUG", price_cents=1250)
PEN = CatalogEntry(product_id=uuid.uuid4(), sku="PEN", price_cents=199)


def test_lines_take_the_catalogue_price_and_keep_the_request_order():
    lines = price_lines([OrderItem(quantity=3, sku="PEN"),
                         OrderItem(quantity=2, product_id=MUG.product_id)], [MUG, PEN])
    assert [(ln.line_no, ln.sku, ln.quantity, ln.unit_price_cents, ln.line_total_cents)
            for ln in lines] == [(1, "PEN", 3, 199, 597), (2, "MUG", 2, 1250, 2500)]
    assert order_total(lines) == 3097


def test_every_unknown_product_is_named():
    ghost = uuid.uuid4()
    with pytest.raises(UnknownProducts) as caught:
        price_lines([OrderItem(quantity=1, sku="MUG"), OrderItem(quantity=1, product_id=ghost),
                     OrderItem(quantity=1, sku="NOPE")], [MUG, PEN])
    assert caught.value.details == {"unknown_products": [{"product_id": str(ghost)},
                                                         {"sku": "NOPE"}]}
    assert "NOPE" in caught.value.message and str(ghost) in caught.value.message


@pytest.mark.parametrize("items", [
    [OrderItem(quantity=1, sku="MUG"), OrderItem(quantity=2, sku="MUG")],
    [OrderItem(quantity=1, sku="MUG"), OrderItem(quantity=2, product_id=MUG.product_id)],
    [OrderItem(quantity=1, product_id=MUG.product_id),
     OrderItem(quantity=1, product_id=MUG.product_id), OrderItem(quantity=1, sku="MUG")],
])
def test_a_product_on_two_lines_is_rejected_however_it_is_named(items):
    with pytest.raises(DuplicateProductLines) as caught:
        price_lines(items, [MUG, PEN])
    assert caught.value.details == {"duplicate_product_ids": [str(MUG.product_id)]}


def test_unknown_products_are_reported_before_duplicates():
    with pytest.raises(UnknownProducts):
        price_lines([OrderItem(quantity=1, sku="MUG"), OrderItem(quantity=1, sku="MUG"),
                     OrderItem(quantity=1, sku="NOPE")], [MUG])


def test_the_fingerprint_depends_on_content_and_line_order_only():
    a = [OrderItem(quantity=1, sku="MUG"), OrderItem(quantity=2, product_id=PEN.product_id)]
    same = [OrderItem(quantity=1, sku="MUG"), OrderItem(quantity=2, product_id=PEN.product_id)]
    assert request_fingerprint("c", a) == request_fingerprint("c", same)
    assert request_fingerprint("c", a) != request_fingerprint("d", a)
    assert request_fingerprint("c", a) != request_fingerprint("c", list(reversed(a)))
    assert request_fingerprint("c", a) != request_fingerprint(
        "c", [OrderItem(quantity=1, sku="MUG"), OrderItem(quantity=3, product_id=PEN.product_id)])
