"""The fast path for order bodies never accepts what marshmallow refuses, and loads exactly
what marshmallow loads; and it does take the plain bodies clients send."""

from __future__ import annotations

import uuid

import marshmallow
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from order_platform.domain.orders import OrderItem
from order_platform.entrypoints.write_api import orders_fast_path
from order_platform.entrypoints.write_api.schemas import OrderIn

SCHEMA = OrderIn()

_uuids = st.uuids().flatmap(lambda u: st.sampled_from(
    [str(u), str(u).upper(), u.hex, f"{{{u}}}", f"urn:uuid:{u}"]))
_texts = st.text(max_size=70) | st.sampled_from(["KB-001", "a", "A" * 64, "A" * 65, "-x",
                                                  "x y", "é", "\ud800", "\x00", "\x7f"])
_scalars = (st.none() | st.booleans() | st.integers(-5, 20_000) | st.floats(allow_nan=False)
            | _texts | _uuids)
_item = st.fixed_dictionaries({}, optional={
    "sku": _texts | _scalars, "product_id": _uuids | _scalars,
    "quantity": st.integers(-2, 10_002) | _scalars, "extra": _scalars})
_body = st.fixed_dictionaries({}, optional={
    "customer_id": _texts | _scalars | st.text(min_size=120, max_size=140),
    "items": st.lists(_item, max_size=4) | _scalars | st.lists(_item, min_size=99, max_size=101),
    "coupon": _scalars}) | _scalars


_good_item = st.one_of(
    st.fixed_dictionaries({"sku": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", fullmatch=True),
                           "quantity": st.integers(1, 10_000)}),
    st.fixed_dictionaries({"product_id": st.uuids().map(str),
                           "quantity": st.integers(1, 10_000)}))
_spoilt_item = st.tuples(_good_item, st.booleans(),
                         _scalars | _uuids | _texts | st.integers(9_990, 10_010)).map(
    lambda t: {**t[0], ("quantity" if t[1] else next(iter(t[0]))): t[2]})
"""A good item with its quantity or its product reference replaced by anything."""
_near_valid = st.fixed_dictionaries({
    "items": st.lists(_good_item | _spoilt_item, min_size=1, max_size=3)
             | st.lists(_good_item | _item, min_size=1, max_size=3)})
"""Mostly valid bodies, so that acceptance is exercised as much as refusal."""


def _marshmallow(data):
    return marshmallow.Schema.load(SCHEMA, data)


@settings(max_examples=1500, deadline=None)
@given(_body | _near_valid)
def test_what_the_fast_path_accepts_marshmallow_accepts_and_loads_the_same(data):
    fast = orders_fast_path.load(data)
    if fast is not None:
        assert fast == _marshmallow(data)


@pytest.mark.parametrize("body", [
    {"items": [{"sku": "KB-001", "quantity": 1}]},
    {"items": [{"product_id": str(uuid.uuid4()), "quantity": 3},
                {"sku": "MS-002", "quantity": 10_000}]},
])
def test_plain_bodies_take_the_fast_path(body):
    fast = orders_fast_path.load(body)
    assert fast is not None and fast == _marshmallow(body)
    assert all(isinstance(item, OrderItem) for item in fast["items"])


@pytest.mark.parametrize("count", [100, 101])
def test_the_line_limit_is_the_schemas(count):
    body = {"items": [{"sku": f"S-{n}", "quantity": 1} for n in range(count)]}
    fast = orders_fast_path.load(body)
    if count <= 100:
        assert fast == _marshmallow(body)
    else:
        assert fast is None
        with pytest.raises(marshmallow.ValidationError):
            _marshmallow(body)


def test_the_schema_uses_the_fast_path_and_marshmallow_for_the_rest():
    body = {"items": [{"sku": "KB-001", "quantity": 1}]}
    assert SCHEMA.load(body) == _marshmallow(body)
    with pytest.raises(marshmallow.ValidationError) as refused:
        SCHEMA.load({"items": [{"sku": "KB-001", "quantity": 0}]})
    assert "quantity" in str(refused.value.messages)
