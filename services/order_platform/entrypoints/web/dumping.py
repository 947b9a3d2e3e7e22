"""Response schemas that serialise with a function compiled once from their fields.

marshmallow walks its field objects and hooks for every object it dumps; for the few field
types the responses use, what it does comes down to ``str()``, ``int()``, ``isoformat()`` or an
enum's value. ``OutputSchema.dump`` does exactly that, from a plan built once per schema, and
gives the schema to marshmallow whenever the plan does not cover it (another field type, a
hook, a dump default, dotted attributes). ``tests/unit/test_dumping.py`` checks that both
give the same output, on random objects too.
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


def _unchanged(cls: type, method: str, base: type) -> bool:
    return getattr(cls, method) is getattr(base, method)


# (applies to the field, what its _serialize does to a value that is not None), first match.
_SCALARS: tuple[tuple[Callable[[fields.Field], bool], Callable[[Any], Any]], ...] = (
    (lambda f: isinstance(f, fields.Enum) and f.by_value is True, lambda v: v.value),
    (lambda f: isinstance(f, fields.Enum) and f.by_value is False, lambda v: v.name),
    (lambda f: isinstance(f, fields.DateTime) and (f.format or "iso") in ("iso", "iso8601")
     and _unchanged(type(f), "_serialize", fields.DateTime), dt.datetime.isoformat),
    (lambda f: isinstance(f, fields.Integer) and not f.as_string
     and _unchanged(type(f), "_serialize", fields.Number)
     and _unchanged(type(f), "_format_num", fields.Number), int),
    (lambda f: isinstance(f, fields.UUID) and _unchanged(type(f), "_serialize", fields.UUID),
     str),
    (lambda f: isinstance(f, fields.String) and _unchanged(type(f), "_serialize", fields.String),
     str),
    (lambda f: type(f) is fields.Raw, lambda v: v),
)


def _scalar(field: fields.Field) -> Callable[[Any], Any]:
    for applies, convert in _SCALARS:
        if applies(field):
            return convert
    raise Unplannable(type(field).__name__)


def _convert(field: fields.Field) -> Dumper:
    if isinstance(field, fields.List):
        inner = _convert(field.inner)
        return lambda items: [None if item is None else inner(item) for item in items]
    if isinstance(field, fields.Nested):
        if field.many or not isinstance(field.schema, OutputSchema):
            raise Unplannable("nested schema that is not an OutputSchema")
        return field.schema.plan()
    return _scalar(field)


class OutputSchema(Schema):
    """A response schema whose ``dump`` runs a plan compiled from its fields."""

    def plan(self) -> Dumper:
        """The compiled dump of one object (built once per schema instance)."""
        cached = self.__dict__.get("_plan")
        if cached is not None:
            return cached
        if self._hooks.get("pre_dump") or self._hooks.get("post_dump") or self.exclude \
                or self.only is not None:
            raise Unplannable("hooks, only or exclude")
        steps = []
        for name, field in self.dump_fields.items():
            attr = field.attribute or name
            if "." in attr or field.dump_default is not missing:
                raise Unplannable(f"field {name}")
            steps.append((field.data_key or name, attr, _convert(field)))

        def dump_one(obj: Any) -> dict:
            # Decided once per object: a dict (query rows) or attributes (dataclasses).
            get = obj.get if isinstance(obj, dict) else (
                obj.get if isinstance(obj, Mapping) else partial(getattr, obj))
            out = {}
            for key, attr, convert in steps:
                value = get(attr, missing)
                if value is not missing:
                    out[key] = None if value is None else convert(value)
            return out

        self.__dict__["_plan"] = dump_one
        return dump_one

    def dump(self, obj: Any, *, many: bool | None = None):
        """``marshmallow.Schema.dump``, through the compiled plan where it applies."""
        try:
            plan = self.plan()
        except Unplannable:
            return super().dump(obj, many=many)
        if self.many if many is None else many:
            return [plan(item) for item in obj]
        return plan(obj)
