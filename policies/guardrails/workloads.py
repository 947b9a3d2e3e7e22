"""Kubernetes workload rules: where objects are placed and what they may reach on the node.

The pack's Kubernetes rules are here and in ``guardrails.containers`` and ``guardrails.images``
(each container of a pod, found by ``guardrails.pods``); ``POLICIES`` lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from pulumi_policy import ResourceValidationArgs

from guardrails.containers import (
    k8s_drop_all_capabilities,
    k8s_no_privilege_escalation,
    k8s_probes,
    k8s_read_only_root_filesystem,
    k8s_resource_requests_and_limits,
    k8s_run_as_high_uid,
    k8s_run_as_non_root,
    k8s_seccomp_runtime_default,
)
from guardrails.images import k8s_explicit_pull_policy, k8s_image_digest, k8s_image_pinned
from guardrails.pods import pod_spec
from guardrails.props import Report, get, items, label, truthy
from guardrails.rules import resource_rule
from guardrails.settings import RuleSettings, setting

SERVICE = "kubernetes:core/v1:Service"
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


@dataclass(frozen=True)
class NoDefaultNamespace(RuleSettings):
    """The settings of k8s-no-default-namespace."""

    forbidden_namespaces: tuple[str, ...] = setting(
        ("default",), "Namespaces that workloads may not use.")


@resource_rule(
    "k8s-no-default-namespace",
    "Kubernetes objects must not be created in the default namespace.",
    NoDefaultNamespace,
)
def k8s_no_default_namespace(args: ResourceValidationArgs, report: Report) -> None:
    """Namespaced objects are placed in a namespace other than ``default``."""
    if not args.resource_type.startswith("kubernetes:") or args.resource_type.startswith(
        ("kubernetes:helm.sh", "kubernetes:yaml", "kubernetes:kustomize")
    ):
        return
    if args.resource_type.rsplit(":", 1)[-1] in CLUSTER_SCOPED_KINDS:
        return
    provider_default = get(args.provider.props, "namespace") if args.provider else None
    namespace = str(get(args.props, "metadata.namespace") or provider_default or "default")
    if namespace in NoDefaultNamespace.read(args).forbidden_namespaces:
        report(
            f"{args.resource_type.rsplit(':', 1)[-1]} {label(args)} lands in the '{namespace}' "
            "namespace. Set metadata.namespace to the application's namespace (or the "
            "Kubernetes provider's namespace) so Pod Security labels and quotas apply."
        )


@resource_rule(
    "k8s-no-host-network-or-path",
    "Pods must not use hostNetwork/hostPID/hostIPC or hostPath volumes.",
)
def k8s_no_host_access(args: ResourceValidationArgs, report: Report) -> None:
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


@resource_rule(
    "k8s-no-load-balancer-service",
    "Services of type LoadBalancer are forbidden; the NLB is owned by the infra.",
)
def k8s_no_load_balancer_service(args: ResourceValidationArgs, report: Report) -> None:
    """No Service asks the cloud controller for a load balancer."""
    if args.resource_type == SERVICE and str(get(args.props, "spec.type", "")) == "LoadBalancer":
        report(
            f"Service {label(args)} has type LoadBalancer, which makes a controller create a "
            "load balancer that Pulumi does not own and `pulumi destroy` leaks. Use a ClusterIP "
            "or NodePort Service behind the NLB that the infra program creates."
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
