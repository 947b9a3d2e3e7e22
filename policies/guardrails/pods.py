"""Where a Kubernetes workload's pods are, and the rule that checks each of their containers.

pulumi-kubernetes sends objects in their manifest shape (``spec.template.spec.containers[]``,
camelCase field names), so the pod spec is found by kind and read like the YAML.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy

from guardrails.props import Report, get, items, label
from guardrails.rules import resource_rule

POD_SPEC_PATHS = {
    "kubernetes:core/v1:Pod": "spec",
    "kubernetes:apps/v1:Deployment": "spec.template.spec",
    "kubernetes:apps/v1:StatefulSet": "spec.template.spec",
    "kubernetes:apps/v1:DaemonSet": "spec.template.spec",
    "kubernetes:apps/v1:ReplicaSet": "spec.template.spec",
    "kubernetes:batch/v1:Job": "spec.template.spec",
    "kubernetes:batch/v1:CronJob": "spec.jobTemplate.spec.template.spec",
}
LONG_RUNNING = frozenset(
    {
        "kubernetes:apps/v1:Deployment",
        "kubernetes:apps/v1:StatefulSet",
        "kubernetes:apps/v1:DaemonSet",
    }
)

Check = Callable[[Mapping, Mapping], str | None]
"""(container, pod spec) -> what is wrong with the container, or None."""


def pod_spec(args: ResourceValidationArgs) -> Mapping | None:
    """The pod spec inside a workload object, or None for other kinds."""
    path = POD_SPEC_PATHS.get(args.resource_type)
    spec = get(args.props, path) if path else None
    return spec if isinstance(spec, Mapping) else None


def containers(spec: Mapping, include_init: bool = True) -> Iterator[Mapping]:
    """The containers (and init containers) of a pod spec."""
    keys = ("initContainers", "containers") if include_init else ("containers",)
    for key in keys:
        yield from (c for c in items(get(spec, key)) if isinstance(c, Mapping))


def pod_containers(args: ResourceValidationArgs) -> list[Mapping]:
    """Every container of a workload object, init containers included; none for other kinds."""
    spec = pod_spec(args)
    return [] if spec is None else list(containers(spec))


def container_rule(
    name: str,
    description: str,
    check: Check,
    fix: str,
    *,
    kinds: frozenset[str] = frozenset(POD_SPEC_PATHS),
    include_init: bool = True,
) -> ResourceValidationPolicy:
    """A rule that applies ``check`` to every container of the given workload kinds."""

    def validate(args: ResourceValidationArgs, report: Report) -> None:
        spec = pod_spec(args)
        if spec is None or args.resource_type not in kinds:
            return
        for container in containers(spec, include_init):
            problem = check(container, spec)
            if problem:
                report(
                    f"Container '{get(container, 'name', '?')}' of {label(args)} {problem}. {fix}"
                )

    validate.__doc__ = description
    return resource_rule(name, description)(validate)


def effective(container: Mapping, spec: Mapping, field: str) -> object:
    """A security-context field, from the container or else the pod (Kubernetes' precedence)."""
    value = get(container, f"securityContext.{field}")
    return get(spec, f"securityContext.{field}") if value is None else value
