"""Kubernetes workload rules: resources, the restricted security profile, probes, images, placement.

pulumi-kubernetes sends objects in their manifest shape (``spec.template.spec.containers[]``,
camelCase field names), so the pod spec is found by kind and read like the YAML.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from guardrails.props import get, items, label, str_list_setting, truthy

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
SERVICE = "kubernetes:core/v1:Service"
RESOURCE_KINDS = ("cpu", "memory")
HIGH_UID = 10000
"""UIDs below this may be a user of the node's own system (checkov CKV_K8S_40)."""
DIGEST_MARK = "@sha256:"
FORBIDDEN_TAGS = ("latest",)
FORBIDDEN_NAMESPACES = ("default",)
CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "PriorityClass",
    "RuntimeClass",
    "IngressClass",
    "APIService",
    "ComponentStatus",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "FlowSchema",
    "PriorityLevelConfiguration",
    "CertificateSigningRequest",
    # Karpenter's kinds (karpenter.sh, karpenter.k8s.aws): node pools and classes are cluster-wide.
    "NodePool",
    "NodeClaim",
    "NodeOverlay",
    "EC2NodeClass",
}

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


def _container_policy(
    name: str,
    description: str,
    check: Check,
    fix: str,
    *,
    kinds: frozenset[str] = frozenset(POD_SPEC_PATHS),
    include_init: bool = True,
) -> ResourceValidationPolicy:
    """A rule that applies ``check`` to every container of the given workload kinds."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
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
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def _effective(container: Mapping, spec: Mapping, field: str) -> object:
    """A security-context field, from the container or else the pod (Kubernetes' precedence)."""
    value = get(container, f"securityContext.{field}")
    return get(spec, f"securityContext.{field}") if value is None else value


def _runs_as_root(container: Mapping, spec: Mapping) -> str | None:
    if not truthy(_effective(container, spec, "runAsNonRoot")):
        return "may run as root (runAsNonRoot is not true)"
    if _effective(container, spec, "runAsUser") in (0, 0.0):
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
    profile = _effective(container, spec, "seccompProfile")
    if str(get(profile, "type", "")) != "RuntimeDefault":
        return "has no RuntimeDefault seccomp profile"
    return None


def _by_tag(container: Mapping, _spec: Mapping) -> str | None:
    image = str(get(container, "image", ""))
    return None if DIGEST_MARK in image else f"runs '{image}' by tag, not by digest"


def _low_uid(container: Mapping, spec: Mapping) -> str | None:
    uid = _effective(container, spec, "runAsUser")
    if uid is None:
        return "sets no runAsUser, so the image's user decides"
    if int(uid) < HIGH_UID:
        return f"runs as UID {int(uid)}, below {HIGH_UID}"
    return None


def _pull_policy(container: Mapping, _spec: Mapping) -> str | None:
    policy = get(container, "imagePullPolicy")
    if policy is None:
        return "sets no imagePullPolicy, so Kubernetes picks one from the image's tag"
    if str(policy) == "Never":
        return "never pulls, so it runs whatever a node happens to hold"
    if str(policy) != "Always" and DIGEST_MARK not in str(get(container, "image", "")):
        return f"pulls {policy} by tag, so a node may keep an older image under that tag"
    return None


def _probes(container: Mapping, _spec: Mapping) -> str | None:
    missing = [p for p in ("livenessProbe", "readinessProbe") if not get(container, p)]
    return f"has no {' or '.join(missing)}" if missing else None


k8s_run_as_non_root = _container_policy(
    "k8s-run-as-non-root",
    "Containers must run as a non-root user.",
    _runs_as_root,
    "Set securityContext.runAsNonRoot: true (and a non-zero runAsUser) on the pod or container.",
)
k8s_read_only_root_filesystem = _container_policy(
    "k8s-read-only-root-filesystem",
    "Containers must have a read-only root filesystem.",
    _writable_root,
    "Set securityContext.readOnlyRootFilesystem: true; mount an emptyDir where it must write.",
)
k8s_no_privilege_escalation = _container_policy(
    "k8s-no-privilege-escalation",
    "Containers must not allow privilege escalation.",
    _escalates,
    "Set securityContext.allowPrivilegeEscalation: false and do not set privileged.",
)
k8s_drop_all_capabilities = _container_policy(
    "k8s-drop-all-capabilities",
    "Containers must drop all Linux capabilities.",
    _keeps_capabilities,
    "Set securityContext.capabilities.drop: [ALL] (add back only what is needed).",
)
k8s_seccomp_runtime_default = _container_policy(
    "k8s-seccomp-runtime-default",
    "Containers must use the RuntimeDefault seccomp profile.",
    _seccomp,
    "Set securityContext.seccompProfile.type: RuntimeDefault on the pod or container.",
)
k8s_image_digest = _container_policy(
    "k8s-image-digest",
    "Container images must be pinned by digest.",
    _by_tag,
    "Deploy <repository>:<tag>@sha256:<digest> (Registry.release_image resolves the pushed tag), "
    "so the bytes that run are the bytes ECR scanned.",
)
k8s_run_as_high_uid = _container_policy(
    "k8s-run-as-high-uid",
    f"Containers must run as a UID of at least {HIGH_UID}.",
    _low_uid,
    f"Set securityContext.runAsUser (and runAsGroup) to {HIGH_UID} or more on the pod or "
    "container, matching the image's USER (10001).",
)
k8s_explicit_pull_policy = _container_policy(
    "k8s-explicit-pull-policy",
    "Containers must set imagePullPolicy: Always, or IfNotPresent for an image by digest.",
    _pull_policy,
    "Set imagePullPolicy explicitly: IfNotPresent with an image by digest (what the program "
    "deploys), Always otherwise.",
)
k8s_probes = _container_policy(
    "k8s-liveness-and-readiness-probes",
    "Long-running containers must have liveness and readiness probes.",
    _probes,
    "Add livenessProbe and readinessProbe (for example httpGet on /healthz and /readyz).",
    kinds=LONG_RUNNING,
    include_init=False,
)


def _resources(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Every container sets requests and limits for the configured resources."""
    spec = pod_spec(args)
    if spec is None:
        return
    kinds = str_list_setting(args, "requiredResources", RESOURCE_KINDS)
    for container in containers(spec):
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


k8s_resource_requests_and_limits = ResourceValidationPolicy(
    name="k8s-resource-requests-and-limits",
    description="Every container must set resource requests and limits.",
    validate=_resources,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "requiredResources": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(RESOURCE_KINDS),
                "description": "Resources that need both a request and a limit.",
            }
        }
    ),
)


def image_tag(image: str) -> str | None:
    """The tag of an image reference ("" for a digest), or None when it has neither."""
    if "@" in image:
        return ""
    last = image.rsplit("/", 1)[-1]  # a registry host:port has its colon before the last slash
    return last.split(":", 1)[1] if ":" in last else None


def _image_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Every image is pinned by a tag that is not ``latest`` (or by digest)."""
    spec = pod_spec(args)
    if spec is None:
        return
    forbidden = set(str_list_setting(args, "forbiddenTags", FORBIDDEN_TAGS))
    for container in containers(spec):
        image = str(get(container, "image", ""))
        tag = image_tag(image)
        if tag is None or tag in forbidden:
            problem = "has no tag" if tag is None else f"uses the '{tag}' tag"
            report(
                f"Container '{get(container, 'name', '?')}' of {label(args)}: image '{image}' "
                f"{problem}, so what runs changes without a deploy. Pin an immutable release "
                "tag (the stack's imageTag) or a digest."
            )


k8s_image_pinned = ResourceValidationPolicy(
    name="k8s-image-pinned",
    description="Container images must be pinned: no 'latest' tag and no untagged image.",
    validate=_image_tags,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "forbiddenTags": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(FORBIDDEN_TAGS),
                "description": "Image tags that do not pin anything.",
            }
        }
    ),
)


def _namespace(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Namespaced objects are placed in a namespace other than ``default``."""
    if not args.resource_type.startswith("kubernetes:") or args.resource_type.startswith(
        ("kubernetes:helm.sh", "kubernetes:yaml", "kubernetes:kustomize")
    ):
        return
    if args.resource_type.rsplit(":", 1)[-1] in CLUSTER_SCOPED_KINDS:
        return
    provider_default = get(args.provider.props, "namespace") if args.provider else None
    namespace = str(get(args.props, "metadata.namespace") or provider_default or "default")
    if namespace in set(str_list_setting(args, "forbiddenNamespaces", FORBIDDEN_NAMESPACES)):
        report(
            f"{args.resource_type.rsplit(':', 1)[-1]} {label(args)} lands in the '{namespace}' "
            "namespace. Set metadata.namespace to the application's namespace (or the "
            "Kubernetes provider's namespace) so Pod Security labels and quotas apply."
        )


k8s_no_default_namespace = ResourceValidationPolicy(
    name="k8s-no-default-namespace",
    description="Kubernetes objects must not be created in the default namespace.",
    validate=_namespace,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "forbiddenNamespaces": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(FORBIDDEN_NAMESPACES),
                "description": "Namespaces that workloads may not use.",
            }
        }
    ),
)


def _host_access(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Pods do not share the node's network, PID or IPC namespaces or mount its paths."""
    spec = pod_spec(args)
    if spec is None:
        return
    shared = [f for f in ("hostNetwork", "hostPID", "hostIPC") if truthy(get(spec, f))]
    mounts = [str(get(v, "name", "?")) for v in items(get(spec, "volumes")) if get(v, "hostPath")]
    if shared or mounts:
        found = shared + [f"hostPath volume '{m}'" for m in mounts]
        report(
            f"Pods of {label(args)} reach into the node: {', '.join(found)}. Remove them; use "
            "a Service for networking and an emptyDir or a PersistentVolumeClaim for storage."
        )


k8s_no_host_access = ResourceValidationPolicy(
    name="k8s-no-host-network-or-path",
    description="Pods must not use hostNetwork/hostPID/hostIPC or hostPath volumes.",
    validate=_host_access,
    enforcement_level=EnforcementLevel.MANDATORY,
)


def _no_load_balancer(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No Service asks the cloud controller for a load balancer."""
    if args.resource_type == SERVICE and str(get(args.props, "spec.type", "")) == "LoadBalancer":
        report(
            f"Service {label(args)} has type LoadBalancer, which makes a controller create a "
            "load balancer that Pulumi does not own and `pulumi destroy` leaks. Use a ClusterIP "
            "or NodePort Service behind the NLB that the infra program creates."
        )


k8s_no_load_balancer_service = ResourceValidationPolicy(
    name="k8s-no-load-balancer-service",
    description="Services of type LoadBalancer are forbidden; the NLB is owned by the infra.",
    validate=_no_load_balancer,
    enforcement_level=EnforcementLevel.MANDATORY,
)

POLICIES = [
    k8s_resource_requests_and_limits,
    k8s_run_as_non_root,
    k8s_read_only_root_filesystem,
    k8s_no_privilege_escalation,
    k8s_drop_all_capabilities,
    k8s_seccomp_runtime_default,
    k8s_probes,
    k8s_image_pinned,
    k8s_image_digest,
    k8s_run_as_high_uid,
    k8s_explicit_pull_policy,
    k8s_no_default_namespace,
    k8s_no_host_access,
    k8s_no_load_balancer_service,
]
