"""How the pack declares a rule: a decorator on its validator, which it turns into the policy.

Every rule is mandatory unless a stack's policy config relaxes it, and a configurable one names
its ``RuleSettings``, the one declaration of its config schema::

    @resource_rule("aurora-backup-retention", "Aurora backups ...", BackupRetention)
    @for_types(CLUSTER)
    def aurora_backup_retention(args: ResourceValidationArgs, report: Report) -> None:
        ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from guardrails.settings import RuleSettings

Validator = Callable[..., Any]
Rule = TypeVar("Rule", ResourceValidationPolicy, StackValidationPolicy)


def resource_rule(
    name: str, description: str, settings: type[RuleSettings] | None = None
) -> Callable[[Validator], ResourceValidationPolicy]:
    """Declare a rule run once per resource, with its inputs."""
    return _declare(ResourceValidationPolicy, name, description, settings)


def stack_rule(
    name: str, description: str, settings: type[RuleSettings] | None = None
) -> Callable[[Validator], StackValidationPolicy]:
    """Declare a rule run once per stack, over every resource's outputs."""
    return _declare(StackValidationPolicy, name, description, settings)


def _declare(
    kind: type[Rule], name: str, description: str, settings: type[RuleSettings] | None
) -> Callable[[Validator], Rule]:
    def declare(validate: Validator) -> Rule:
        return kind(
            name=name,
            description=description,
            validate=validate,
            enforcement_level=EnforcementLevel.MANDATORY,
            config_schema=settings.schema() if settings else None,
        )

    return declare
