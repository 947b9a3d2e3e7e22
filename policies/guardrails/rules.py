"""How the pack declares a rule: mandatory unless a stack's policy config relaxes it, and
configured, where it is, by its ``RuleSettings`` (the one declaration of its config schema)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from guardrails.settings import RuleSettings


def resource_rule(
    name: str,
    description: str,
    validate: Callable[..., Any],
    settings: type[RuleSettings] | None = None,
) -> ResourceValidationPolicy:
    """A rule run once per resource, with its inputs."""
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=settings.schema() if settings else None,
    )


def stack_rule(
    name: str,
    description: str,
    validate: Callable[..., Any],
    settings: type[RuleSettings] | None = None,
) -> StackValidationPolicy:
    """A rule run once per stack, over every resource's outputs."""
    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=settings.schema() if settings else None,
    )
