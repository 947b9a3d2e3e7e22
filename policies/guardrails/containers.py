"""Container rules: the restricted security profile, a high UID, probes, requests and limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pulumi_policy import ResourceValidationArgs

from guardrails.pods import LONG_RUNNING, container_rule, effective, pod_containers
from guardrails.props import Report, get, items, label, number, truthy
from guardrails.rules import resource_rule
from guardrails.settings import RuleSettings, setting

HIGH_UID = 10000
"""UIDs below this may be a user of the node's own system (checkov CKV_K8S_40)."""


def _runs_as_root(container: Mapping, spec: Mapping) -> str | None:
    if not truthy(effective(container, spec, "runAsNonRoot")):
        return "may run as root (runAsNonRoot is not true)"
    if effective(container, spec, "runAsUser") in (0, 0.0):
        return "sets runAsUser 0"
    return None


def _writable_root(container: Mapping, _spec: Mapping) -> str | None:
    if not truthy(get(container, "securityContext.readOnlyRootFilesystem")):
        return "has a writable root filesystem"
    return None


def _escalates(container: Mapping, _spec: Mapping) -> str | None:
    if get(container, "securityContext.allowPrivilegeEscalation") is not False:
        return "allows privilege escalation (allowPrivilegeEscalation is not false)"
    if truthy(get(container, "securityContext.privileged")):
        return "is privileged"
    return None


def _keeps_capabilities(container: Mapping, _spec: Mapping) -> str | None:
    dropped = {str(c).upper() for c in items(get(container, "securityContext.capabilities.drop"))}
    if "ALL" not in dropped:
        return "does not drop ALL capabilities"
    return None


def _seccomp(container: Mapping, spec: Mapping) -> str | None:
    profile = effective(container, spec, "seccompProfile")
    if str(get(profile, "type", "")) != "RuntimeDefault":
        return "has no RuntimeDefault seccomp profile"
    return None


def _low_uid(container: Mapping, spec: Mapping) -> str | None:
    uid = effective(container, spec, "runAsUser")
    if uid is None:
        return "sets no runAsUser, so the image's user decides"
    if int(number(uid, 0)) < HIGH_UID:
        return f"runs as UID {int(number(uid, 0))}, below {HIGH_UID}"
    return None


def _probes(container: Mapping, _spec: Mapping) -> str | None:
    missing = [p for p in ("livenessProbe", "readinessProbe") if not get(container, p)]
    return f"has no {' or '.join(missing)}" if missing else None


k8s_run_as_non_root = container_rule(
    "k8s-run-as-non-root",
    "Containers must run as a non-root user.",
    _runs_as_root,
    "Set securityContext.runAsNonRoot: true (and a non-zero runAsUser) on the pod or container.",
)
k8s_read_only_root_filesystem = container_rule(
    "k8s-read-only-root-filesystem",
    "Containers must have a read-only root filesystem.",
    _writable_root,
    "Set securityContext.readOnlyRootFilesystem: true; mount an emptyDir where it must write.",
)
k8s_no_privilege_escalation = container_rule(
    "k8s-no-privilege-escalation",
    "Containers must not allow privilege escalation.",
    _escalates,
    "Set securityContext.allowPrivilegeEscalation: false and do not set privileged.",
)
k8s_drop_all_capabilities = container_rule(
    "k8s-drop-all-capabilities",
    "Containers must drop all Linux capabilities.",
    _keeps_capabilities,
    "Set securityContext.capabilities.drop: [ALL] (add back only what is needed).",
)
k8s_seccomp_runtime_default = container_rule(
    "k8s-seccomp-runtime-default",
    "Containers must use the RuntimeDefault seccomp profile.",
    _seccomp,
    "Set securityContext.seccompProfile.type: RuntimeDefault on the pod or container.",
)
k8s_run_as_high_uid = container_rule(
    "k8s-run-as-high-uid",
    f"Containers must run as a UID of at least {HIGH_UID}.",
    _low_uid,
    f"Set securityContext.runAsUser (and runAsGroup) to {HIGH_UID} or more on the pod or "
    "container, matching the image's USER (10001).",
)
k8s_probes = container_rule(
    "k8s-liveness-and-readiness-probes",
    "Long-running containers must have liveness and readiness probes.",
    _probes,
    "Add livenessProbe and readinessProbe (for example httpGet on /healthz and /readyz).",
    kinds=LONG_RUNNING,
    include_init=False,
)


@dataclass(frozen=True)
class RequestsAndLimits(RuleSettings):
    """The settings of k8s-resource-requests-and-limits."""

    required_resources: tuple[str, ...] = setting(
        ("cpu", "memory"), "Resources that need both a request and a limit.")


@resource_rule(
    "k8s-resource-requests-and-limits",
    "Every container must set resource requests and limits.",
    RequestsAndLimits,
)
def k8s_resource_requests_and_limits(args: ResourceValidationArgs, report: Report) -> None:
    """Every container sets requests and limits for the configured resources."""
    kinds = RequestsAndLimits.read(args).required_resources
    for container in pod_containers(args):
        missing = [
            f"{part}.{kind}"
            for part in ("requests", "limits")
            for kind in kinds
            if not get(container, f"resources.{part}.{kind}")
        ]
        if missing:
            report(
                f"Container '{get(container, 'name', '?')}' of {label(args)} has no "
                f"{', '.join(missing)}. Set resources.requests and resources.limits so the "
                "scheduler can place it and a leak cannot starve its neighbours."
            )


