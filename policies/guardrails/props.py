"""Reading resource properties the way the policy engine hands them over.

The engine sends properties through protobuf: names are camelCase, every number is a float,
objects arrive as read-only ``Mapping`` proxies and arrays as ``Sequence`` proxies (never
``dict``/``list``), and some fields are JSON strings (an SQS ``redrivePolicy``, an IAM
``policy``, a provider's ``defaultTags``). Validators read props only through these helpers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, overload

from pulumi_policy import ResourceValidationArgs

WORLD_CIDRS = frozenset({"0.0.0.0/0", "::/0"})


class Report(Protocol):
    """How a validator reports a violation: the message, and from a stack rule the URN of the
    resource at fault. (The SDK's ``ReportViolation`` types the URN as required; the engine's
    callback, like ours in ``guardrails.engine``, defaults it.)"""

    def __call__(self, message: str, urn: str | None = None, /) -> None: ...


def get(props: Any, path: str, default: Any = None) -> Any:
    """The value at a dotted ``path`` (``vpcConfig.publicAccessCidrs``), or ``default``."""
    value = props
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return default
        value = value[key]
    return default if value is None else value


def items(value: Any) -> list[Any]:
    """An engine array (or a single value, or nothing) as a plain list."""
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    return [value]


def of_type(args: Any, resource_type: str) -> list[Any]:
    """The resources of one type token among a stack rule's ``args.resources``."""
    return [r for r in args.resources if r.resource_type == resource_type]


def missing(required: Iterable[str], present: Any) -> list[str]:
    """The ``required`` values, in order, that the engine array ``present`` does not hold."""
    held = {str(v) for v in items(present)}
    return [value for value in required if value not in held]


def json_value(value: Any) -> Any:
    """A property that the provider types as a JSON string, parsed; a mapping passes through."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


@overload
def number(value: Any, default: float) -> float: ...


@overload
def number(value: Any, default: None = None) -> float | None: ...


def number(value: Any, default: float | None = None) -> float | None:
    """A numeric property (the engine sends floats; strings such as "5" occur in JSON docs)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return default
    return default


def truthy(value: Any) -> bool:
    """True only for a real boolean true (or the string "true" of provider config)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def for_types(*resource_types: str) -> Callable:
    """Wrap a validator so that it only sees resources of the given type tokens."""

    def wrap(check: Callable[[ResourceValidationArgs, Report], None]) -> Callable:
        def validate(args: ResourceValidationArgs, report_violation: Report) -> None:
            if args.resource_type in resource_types:
                check(args, report_violation)

        validate.__doc__ = check.__doc__
        validate.__name__ = check.__name__
        return validate

    return wrap


def label(args: Any) -> str:
    """How a message names the resource: its logical name."""
    return f"'{args.name}'"


def aws_managed_key(key: Any) -> bool:
    """True when ``kmsKeyId`` is unset or names an AWS-managed key (``alias/aws/...``): its
    policy, rotation and audit are AWS's, not the stack's."""
    return not key or "alias/aws/" in str(key)
