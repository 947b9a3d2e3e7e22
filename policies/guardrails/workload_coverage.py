"""Stack-level Kubernetes rules: every Deployment has a PodDisruptionBudget and a NetworkPolicy.

Both look across resources: a PDB or NetworkPolicy covers a Deployment when it is in the same
namespace and its label selector matches the Deployment's pod template labels.
"""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import PolicyResource, StackValidationArgs

from guardrails.props import Report, get, items, of_type
from guardrails.rules import stack_rule

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def namespace_of(resource: PolicyResource) -> str:
    """The namespace an object lands in: its own, else its provider's, else ``default``."""
    provider = get(resource.provider.props, "namespace") if resource.provider else None
    return str(get(resource.props, "metadata.namespace") or provider or "default")


def selector_matches(selector: object, labels: Mapping) -> bool:
    """Kubernetes label-selector semantics: matchLabels and matchExpressions, all must hold."""
    if not isinstance(selector, Mapping):
        return False
    for key, value in get(selector, "matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in items(get(selector, "matchExpressions")):
        key, operator = get(expression, "key"), get(expression, "operator")
        values = {str(v) for v in items(get(expression, "values"))}
        present = key in labels
        holds = {
            "In": present and str(labels.get(key)) in values,
            "NotIn": not present or str(labels.get(key)) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }.get(str(operator), False)
        if not holds:
            return False
    return True


def _uncovered_deployments(args: StackValidationArgs, kind: str, selector_path: str) -> list:
    """Deployments that no object of ``kind`` (same namespace, matching selector) covers."""
    guards = of_type(args, kind)
    uncovered = []
    for deployment in of_type(args, DEPLOYMENT):
        labels = get(deployment.props, "spec.template.metadata.labels", {})
        namespace = namespace_of(deployment)
        if not any(
            namespace_of(g) == namespace and selector_matches(get(g.props, selector_path), labels)
            for g in guards
        ):
            uncovered.append(deployment)
    return uncovered


@stack_rule("k8s-deployment-has-pdb", "Every Deployment must have a PodDisruptionBudget.")
def k8s_deployment_has_pdb(args: StackValidationArgs, report: Report) -> None:
    """Each Deployment's pods are selected by a PodDisruptionBudget in its namespace."""
    for deployment in _uncovered_deployments(args, PDB, "spec.selector"):
        report(
            f"Deployment '{deployment.name}' has no PodDisruptionBudget, so a node drain can "
            "evict every replica at once. Add a policy/v1 PodDisruptionBudget in its namespace "
            "whose spec.selector matches spec.template.metadata.labels (e.g. maxUnavailable: 1).",
            deployment.urn,
        )


@stack_rule(
    "k8s-deployment-has-network-policy",
    "Every Deployment must be covered by a NetworkPolicy.",
)
def k8s_deployment_has_network_policy(args: StackValidationArgs, report: Report) -> None:
    """Each Deployment's pods are selected by at least one NetworkPolicy in its namespace."""
    for deployment in _uncovered_deployments(args, NETWORK_POLICY, "spec.podSelector"):
        report(
            f"Deployment '{deployment.name}' is not selected by any NetworkPolicy, so every pod "
            "in the cluster can reach it. Add a default-deny NetworkPolicy (podSelector: {}) in "
            "its namespace plus one that admits only the traffic it needs.",
            deployment.urn,
        )


POLICIES = [k8s_deployment_has_pdb, k8s_deployment_has_network_policy]
