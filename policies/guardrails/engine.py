"""Run the pack's policies over a list of resources the way the Pulumi policy engine does.

What the engine does, and so what this module does:
- properties travel as a protobuf ``Struct`` and are decoded by ``pulumi_policy``'s own
  ``deserialize_properties`` + ``unknown_checking_proxy``: camelCase keys, numbers as floats,
  secrets unwrapped, read-only proxies;
- ``Analyze`` once per resource with its *inputs* (``ResourceValidationArgs``), then
  ``AnalyzeStack`` once with every resource's *outputs* (``StackValidationArgs``);
- policies whose stack config (``guardrails.policy_config``) says ``disabled`` are skipped;
- an ``UnknownValueError`` becomes an advisory "can't run during preview" diagnostic and
  ``not_applicable`` skips the policy, as in ``pulumi_policy``'s analyzer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from guardrails.policy_config import PolicySettings
from infra import pulumi_internals

# How the analyzer decodes props and skips policies is pulumi-policy internals, kept in one
# module (infra/pulumi_internals.py) with the simulation's, and tested there.
UnknownValueError = pulumi_internals.unknown_value_error()
NotApplicableError = pulumi_internals.not_applicable_error()


@dataclass(frozen=True)
class Subject:
    """One registered resource, as the engine knows it (``infra.simulation`` fills these)."""

    type: str
    name: str
    urn: str
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    parent: str | None = None
    provider: str | None = None
    """The provider reference ``<provider urn>::<provider id>``; None for a default provider."""
    dependencies: tuple[str, ...] = ()
    id: str | None = None


@dataclass(frozen=True)
class Violation:
    """One diagnostic, like a line of `pulumi preview`'s policy report."""

    policy: str
    level: EnforcementLevel
    description: str
    message: str
    urn: str
    resource_type: str
    resource_name: str


def _plain(value: Any) -> Any:
    """A JSON-able copy of SDK-deserialised values (proxies, tuples, odd scalars)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(_plain(value))
    return struct


def wire_props(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """Properties as a policy receives them: through protobuf and pulumi_policy's decoding."""
    return pulumi_internals.analyzer_props(json_format.MessageToDict(_struct(props)))


@dataclass(frozen=True)
class ProviderView:
    """The provider of a resource, as the engine describes it (``AnalyzerProviderResource``)."""

    type: str
    urn: str
    name: str
    props: Mapping[str, Any]


@dataclass(frozen=True)
class ResourceView:
    """What the engine sends about one resource: inputs to ``Analyze``, outputs to the stack."""

    type: str
    urn: str
    name: str
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    parent: str | None
    provider: ProviderView | None
    dependencies: tuple[str, ...]


def engine_views(
    subjects: Iterable[Subject], default_providers: Mapping[str, Mapping[str, Any]] | None = None
) -> list[ResourceView]:
    """The engine's view of registered resources, providers resolved.

    ``default_providers`` maps a package (``aws``) to the props of its default provider, i.e.
    the stack's ``aws:*`` config, for resources registered without an explicit provider.
    Stack-level props are the outputs plus the provider ``id``, which bridged providers
    (pulumi-aws) keep among a resource's outputs.
    """
    subjects = list(subjects)
    by_urn = {s.urn: s for s in subjects}
    defaults = default_providers or {}
    return [
        ResourceView(
            type=s.type,
            urn=s.urn,
            name=s.name,
            inputs=_plain(s.inputs),
            outputs=_plain({**s.inputs, **s.outputs, **({"id": s.id} if s.id else {})}),
            parent=s.parent,
            provider=_provider(s, by_urn, defaults),
            dependencies=tuple(d for d in s.dependencies if d in by_urn),
        )
        for s in subjects
    ]


def _provider(subject: Subject, by_urn: dict, defaults: Mapping[str, Mapping]):
    if subject.provider:
        urn = subject.provider.rsplit("::", 1)[0]
        explicit = by_urn.get(urn)
        if explicit is None:
            return None
        return ProviderView(explicit.type, urn, explicit.name, _plain(explicit.inputs))
    package = subject.type.split(":", 1)[0]
    if package not in defaults or package == "pulumi":
        return None
    stack, project = subject.urn.split("::", 2)[:2]
    urn = f"{stack}::{project}::pulumi:providers:{package}::default"
    return ProviderView(f"pulumi:providers:{package}", urn, "default", _plain(defaults[package]))


def _options(parent: str | None) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=parent,
    )


def _policy_provider(view: ProviderView | None) -> PolicyProviderResource | None:
    if view is None:
        return None
    return PolicyProviderResource(view.type, wire_props(view.props), view.urn, view.name)


def _run(validation: Any) -> None:
    """Finish an async validator the way the analyzer does: on a fresh event loop."""
    if isawaitable(validation):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(validation)
        finally:
            loop.close()


class _Report:
    """Collects violations for one policy, like the analyzer's ``report_violation``."""

    def __init__(self, policy: Policy, level: EnforcementLevel, urn: str, found: list) -> None:
        self.policy, self.level, self.urn, self.found = policy, level, urn, found

    def __call__(self, message: str, urn: str | None = None) -> None:
        self.found.append((self.policy, self.level, message, urn or self.urn))

    def cannot_run(self, error: Exception) -> None:
        self.found.append(
            (
                self.policy,
                EnforcementLevel.ADVISORY,
                f"can't run during preview: {getattr(error, 'message', error)}",
                self.urn,
            )
        )


def _call(
    policy: ResourceValidationPolicy | StackValidationPolicy, args: Any, report: _Report
) -> None:
    try:
        _run(policy.validate(args, report))
    except UnknownValueError as error:
        report.cannot_run(error)
    except NotApplicableError:
        pass


def evaluate(
    views: Iterable[ResourceView],
    policies: Sequence[Policy],
    settings: Mapping[str, PolicySettings],
) -> list[Violation]:
    """Every violation the pack reports for these resources, resource- then stack-level."""
    views = list(views)
    by_urn = {v.urn: v for v in views}
    active = [p for p in policies if settings[p.name].level != EnforcementLevel.DISABLED]
    found: list = []
    for view in views:
        provider = _policy_provider(view.provider)
        for policy in (p for p in active if isinstance(p, ResourceValidationPolicy)):
            setting = settings[policy.name]
            args = ResourceValidationArgs(
                view.type,
                wire_props(view.inputs),
                view.urn,
                view.name,
                _options(view.parent),
                provider,
                dict(setting.config),
                {},
            )
            _call(policy, args, _Report(policy, _effective(setting.level), view.urn, found))
    resources = _stack_resources(views)
    for stack_policy in (p for p in active if isinstance(p, StackValidationPolicy)):
        setting = settings[stack_policy.name]
        stack_args = StackValidationArgs(resources, dict(setting.config), {})
        _call(stack_policy, stack_args,
              _Report(stack_policy, _effective(setting.level), "", found))
    return [
        _violation(policy, level, message, urn, by_urn) for policy, level, message, urn in found
    ]


def _effective(level: EnforcementLevel) -> EnforcementLevel:
    # A violation left after remediation is reported as mandatory, as the analyzer does.
    return EnforcementLevel.MANDATORY if level == EnforcementLevel.REMEDIATE else level


def _violation(policy: Policy, level, message: str, urn: str, by_urn: dict) -> Violation:
    view = by_urn.get(urn)
    return Violation(
        policy=policy.name,
        level=level,
        description=policy.description,
        message=message,
        urn=urn,
        resource_type=view.type if view else "",
        resource_name=view.name if view else "",
    )


def _stack_resources(views: list[ResourceView]) -> list[PolicyResource]:
    """``AnalyzeStack``'s resources: outputs, with parents and dependencies linked."""
    resources = {
        v.urn: PolicyResource(
            v.type,
            wire_props(v.outputs),
            v.urn,
            v.name,
            _options(v.parent),
            _policy_provider(v.provider),
            None,
            [],
            {},
        )
        for v in views
    }
    for v in views:
        resource = resources[v.urn]
        resource.parent = resources.get(v.parent) if v.parent else None
        resource.dependencies = [resources[d] for d in v.dependencies]
    return list(resources.values())
