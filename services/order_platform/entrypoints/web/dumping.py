"""Response schemas whose dump is a function compiled once from their fields.

marshmallow walks its field objects and their hooks for every object it dumps; for the few
field types the responses use, what it does comes down to ``str()``, ``int()``,
``isoformat()`` or an enum's value. ``OutputSchema.dump`` does just that, from a plan built
once per schema instance out of the schema's public parts (its dump fields, their classes and
options), and gives the schema to marshmallow whenever the plan does not cover it: another
field class, a method of its own (a hook), only/exclude, a dump default, a dotted attribute.
It is the dump of every response of both APIs: on ``GET /orders/{id}`` it was a sixth of the
API's instructions (docs/performance.md). ``tests/unit/test_dumping.py`` checks that both
give the same output, on random objects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from apiflask import Schema
from marshmallow import fields, missing

Dumper = Callable[[Any], Any]


class Unplannable(Exception):
    """The plan does not cover this schema: marshmallow dumps it."""


def _scalar(field: fields.Field[Any]) -> Dumper:
    """What marshmallow's own class of ``field`` does to a value that is not None."""
    kind = type(field)
    if isinstance(field, fields.Enum) and kind is fields.Enum:
        return (lambda v: v.value) if field.by_value is True else \
            (lambda v: v.name) if field.by_value is False else _unplannable(field)
    if isinstance(field, fields.DateTime) and kind is fields.DateTime \
            and field.format in (None, "iso", "iso8601"):
        return dt.datetime.isoformat
    if isinstance(field, fields.Integer) and kind is fields.Integer and not field.as_string:
        return int
    if kind in (fields.UUID, fields.String):
        return str
    if kind is fields.Raw:
        return lambda v: v
    return _unplannable(field)


def _unplannable(field: fields.Field[Any]) -> Dumper:
    raise Unplannable(type(field).__name__)


def _convert(field: fields.Field[Any]) -> Dumper:
    if type(field) is fields.List:
        inner = _convert(field.inner)
        return lambda items: [None if item is None else inner(item) for item in items]
    if type(field) is fields.Nested:
        schema = field.schema
        if field.many or not isinstance(schema, OutputSchema):
            raise Unplannable("a nested schema that is not an OutputSchema")
        return schema.plan()
    return _scalar(field)


class OutputSchema(Schema):
    """A response schema whose ``dump`` runs a plan compiled from its fields."""

    def plan(self) -> Dumper:
        """The compiled dump of one object (built once per schema instance)."""
        cached: Dumper | None = self.__dict__.get("_compiled")
        if cached is not None:
            return cached
        own = [name for cls in type(self).__mro__[:type(self).__mro__.index(OutputSchema)]
               for name, value in vars(cls).items() if callable(value)
               and not isinstance(value, (type, fields.Field))]
        if own or self.only is not None or self.exclude:
            raise Unplannable(f"methods ({own}), only or exclude")
        steps = []
        for name, field in self.dump_fields.items():
            attr = field.attribute or name
            if "." in attr or field.dump_default is not missing:
                raise Unplannable(f"field {name}")
            steps.append((field.data_key or name, attr, _convert(field)))

        def dump_one(obj: Any) -> dict[str, Any]:
            # Decided once per object: a mapping (query rows) or attributes (dataclasses).
            get = obj.get if type(obj) is dict or isinstance(obj, Mapping) else partial(getattr,
                                                                                     obj)
            out = {}
            for key, attr, convert in steps:
                value = get(attr, missing)
                if value is not missing:
                    out[key] = None if value is None else convert(value)
            return out

        self.__dict__["_compiled"] = dump_one
        return dump_one

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        """``marshmallow.Schema.dump``, through the compiled plan where it applies."""
        try:
            plan = self.plan()
        except Unplannable:
            return super().dump(obj, many=many)
        if self.many if many is None else many:
            return [plan(item) for item in obj]
        return plan(obj)
