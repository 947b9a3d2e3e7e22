"""A rule's settings, declared once: the policy's config schema and its typed reading.

A configurable rule declares a frozen dataclass of ``RuleSettings`` whose fields are made
with ``setting()``: a type (``int``, ``bool``, ``tuple[str, ...]``, ``tuple[int, ...]``), a
default, a description and bounds. ``schema()`` builds the ``PolicyConfigSchema`` the pack
hands the Pulumi CLI (camelCase keys, JSON-schema types, defaults the CLI fills in), and
``read(args)`` gives the validator the configured values as that dataclass, coerced from what
the engine sends (every number a float, arrays as read-only sequences).
"""

from __future__ import annotations

import re
from dataclasses import Field, field, fields
from typing import Any, ClassVar, Self, cast, get_args, get_origin, get_type_hints

from pulumi_policy import PolicyConfigSchema

from guardrails.props import items, number, truthy

_JSON_TYPES: dict[type, str] = {bool: "boolean", int: "integer", str: "string"}


def setting(
    default: Any,
    description: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A field of a rule's settings; the bounds apply to the value, or to each item of a tuple."""
    bounds = {"minimum": minimum, "maximum": maximum, "enum": list(choices) if choices else None}
    return field(
        default=default,
        metadata={
            "description": description,
            "bounds": {k: v for k, v in bounds.items() if v is not None},
        },
    )


def config_key(name: str) -> str:
    """The policy-config key of a field: ``minimum_days`` is ``minimumDays``."""
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


class RuleSettings:
    """Base of a rule's settings dataclass: its schema and its reading from the engine."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    @classmethod
    def schema(cls) -> PolicyConfigSchema:
        """The ``config_schema`` of the policy these settings configure."""
        hints = get_type_hints(cls)
        return PolicyConfigSchema(
            properties={config_key(f.name): _property(hints[f.name], f) for f in fields(cls)}
        )

    @classmethod
    def read(cls, args: Any) -> Self:
        """The settings a validation call was configured with; a missing one is its default."""
        config = args.get_config()
        hints = get_type_hints(cls)
        values = {}
        for f in fields(cls):
            raw = config.get(config_key(f.name))
            values[f.name] = _coerce(hints[f.name], f.default if raw is None else raw, f.default)
        return cls(**values)


def _property(hint: Any, spec: Field[Any]) -> dict[str, Any]:
    """The JSON schema of one field."""
    bounds, default = dict(spec.metadata["bounds"]), spec.default
    if get_origin(hint) is tuple:
        item = {"type": _JSON_TYPES[get_args(hint)[0]], **bounds}
        listed = list(cast(tuple, default))
        shape: dict[str, Any] = {"type": "array", "items": item, "default": listed}
    else:
        shape = {"type": _JSON_TYPES[hint], **bounds, "default": default}
    return {**shape, "description": spec.metadata["description"]}


def _coerce(hint: Any, value: Any, default: Any) -> Any:
    """A config value as the field's type (protobuf turned every number into a float); a
    number that is not one reads as ``default`` (0 in a tuple)."""
    if get_origin(hint) is tuple:
        return tuple(_coerce(get_args(hint)[0], v, 0) for v in items(value))
    if hint is bool:
        return truthy(value)
    if hint is int:
        return int(number(value, default) or 0)
    return str(value)
