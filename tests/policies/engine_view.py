"""Build policy arguments exactly as the Pulumi engine hands them to a Python pack.

The analyzer (pulumi-policy's gRPC servicer) receives properties as a protobuf ``Struct``
and decodes them with the SDK's own decoding (``infra.pulumi_internals.analyzer_props``);
config arrives the same way after the CLI filled the schema defaults. These helpers do that
and nothing else, independently of ``guardrails.engine``, so the rules are tested against the
engine's real shapes: camelCase keys, floats for every number, read-only Mapping/Sequence
proxies, JSON-string fields.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

from infra import pulumi_internals

SECRET_SIG = {pulumi_internals.SECRET_SIG_KEY: pulumi_internals.SECRET_SIG}
DELETE = object()
"""Marks a key to remove in ``changed``."""


def secret(value: Any) -> dict:
    """A value marked secret, as the engine serialises it (the pack sees it unwrapped)."""
    return {**SECRET_SIG, "value": value}


def on_the_wire(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """Properties after the protobuf round trip and the analyzer's decoding."""
    struct = struct_pb2.Struct()
    struct.update(props)
    return pulumi_internals.analyzer_props(json_format.MessageToDict(struct))


def changed(props: Mapping[str, Any], **paths: Any) -> dict:
    """A deep copy of ``props`` with ``a__b__c=value`` set (or removed with ``DELETE``)."""
    result = copy.deepcopy(dict(props))
    for path, value in paths.items():
        keys = path.split("__")
        node = result
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        last = int(keys[-1]) if isinstance(node, list) else keys[-1]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return result


def engine_config(policy: Policy, **overrides: Any) -> dict:
    """The policy's config as ``Configure`` delivers it: schema defaults, overrides, floats."""
    schema = policy.config_schema.properties if policy.config_schema else {}
    values = {k: spec["default"] for k, spec in schema.items() if "default" in spec}
    values.update(overrides)
    struct = struct_pb2.Struct()
    struct.update(values)
    return json_format.MessageToDict(struct)


def _options(parent: str | None = None) -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)


def provider(
    package: str, props: Mapping[str, Any], name: str = "default"
) -> PolicyProviderResource:
    """A provider as the engine describes it to the pack."""
    urn = f"urn:pulumi:test::order-platform::pulumi:providers:{package}::{name}"
    return PolicyProviderResource(f"pulumi:providers:{package}", on_the_wire(props), urn, name)


def urn_of(resource_type: str, name: str) -> str:
    """The URN the engine would give a top-level resource in stack ``test``."""
    return f"urn:pulumi:test::order-platform::{resource_type}::{name}"


def resource_args(
    policy: Policy,
    resource_type: str,
    props: Mapping[str, Any],
    name: str = "subject",
    provider_resource: PolicyProviderResource | None = None,
    **config: Any,
) -> ResourceValidationArgs:
    """``ResourceValidationArgs`` for one resource, as ``Analyze`` builds them."""
    return ResourceValidationArgs(
        resource_type,
        on_the_wire(props),
        urn_of(resource_type, name),
        name,
        _options(),
        provider_resource,
        engine_config(policy, **config),
        {},
    )


def stack_args(
    policy: Policy,
    resources: list[tuple[str, str, Mapping[str, Any]]],
    provider_resource: PolicyProviderResource | None = None,
    **config: Any,
) -> StackValidationArgs:
    """``StackValidationArgs`` for (type, name, outputs) triples, as ``AnalyzeStack`` does."""
    built = [
        PolicyResource(
            t, on_the_wire(p), urn_of(t, n), n, _options(), provider_resource, None, [], {}
        )
        for t, n, p in resources
    ]
    return StackValidationArgs(built, engine_config(policy, **config), {})


def violations(policy: Policy, args: Any) -> list[tuple[str, str | None]]:
    """(message, urn) for each violation the policy reports."""
    found: list[tuple[str, str | None]] = []
    policy.validate(args, lambda message, urn=None: found.append((message, urn)))
    return found


def messages(policy: Policy, args: Any) -> list[str]:
    """Just the messages."""
    return [m for m, _ in violations(policy, args)]
