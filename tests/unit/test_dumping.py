"""The responses' compiled dump gives exactly what marshmallow's gives, for any object."""

from __future__ import annotations

import datetime as dt
import types

import marshmallow
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import fields

from order_platform.entrypoints.read_api import schemas as read_schemas
from order_platform.entrypoints.web import schemas as web_schemas
from order_platform.entrypoints.web.dumping import OutputSchema, Unplannable
from order_platform.entrypoints.write_api import schemas as write_schemas

RESPONSES = sorted({cls for module in (read_schemas, web_schemas, write_schemas)
                    for cls in vars(module).values()
                    if isinstance(cls, type) and issubclass(cls, OutputSchema)
                    and cls is not OutputSchema}, key=lambda c: c.__name__)


_SCALARS = (
    (fields.Enum, lambda f: st.sampled_from(list(f.enum))),
    (fields.DateTime, lambda f: st.datetimes(timezones=st.sampled_from([None, dt.UTC]))),
    (fields.Integer, lambda f: st.integers(min_value=-(2**63), max_value=2**63)),
    (fields.UUID, lambda f: st.uuids() | st.uuids().map(str)),
    (fields.String, lambda f: st.text(max_size=20)),
)


def _value(field: fields.Field) -> st.SearchStrategy:
    if isinstance(field, fields.List):
        return st.lists(_value(field.inner), max_size=3)
    if isinstance(field, fields.Nested):
        return _object(field.schema)
    return next(make(field) for kind, make in _SCALARS if isinstance(field, kind))


def _object(schema: marshmallow.Schema) -> st.SearchStrategy:
    """A mapping or an object carrying some of the schema's attributes, some of them None.

    A key that names a dict method (``items``) is always there: marshmallow would otherwise
    find the method on a mapping, which no response ever gives it.
    """
    entries = {(field.attribute or name): st.one_of(st.none(), _value(field))
               for name, field in schema.dump_fields.items()}
    always = {k: v for k, v in entries.items() if hasattr(dict, k)}
    optional = {k: v for k, v in entries.items() if k not in always}
    mapping = st.fixed_dictionaries(always, optional=optional) | st.fixed_dictionaries(entries)
    return mapping | mapping.map(lambda d: types.SimpleNamespace(**d))


@pytest.mark.parametrize("schema_class", RESPONSES, ids=lambda c: c.__name__)
def test_every_response_schema_has_a_compiled_plan(schema_class):
    schema_class().plan()  # raises Unplannable if marshmallow would have to do it


@pytest.mark.parametrize("schema_class", RESPONSES, ids=lambda c: c.__name__)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_the_plan_dumps_what_marshmallow_dumps(schema_class, data):
    schema = schema_class()
    obj = data.draw(_object(schema))
    assert schema.dump(obj) == marshmallow.Schema.dump(schema, obj)
    assert schema.dump([obj, obj], many=True) == marshmallow.Schema.dump(schema, [obj, obj],
                                                                         many=True)


def test_a_schema_the_plan_does_not_cover_is_dumped_by_marshmallow():
    class Odd(OutputSchema):
        price = fields.Decimal(as_string=True)

    with pytest.raises(Unplannable):
        Odd().plan()
    assert Odd().dump({"price": 1}) == {"price": "1"}
