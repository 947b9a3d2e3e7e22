"""`pulumi destroy` can finish: no finalizer waits on a controller that is already gone.

Pulumi deletes in reverse dependency order (``StackRun.outlived_by``: dependencies, parent and
provider, transitively); everything else is deleted at the same time. A Kubernetes object with
a finalizer is only gone once its controller has done the work the finalizer stands for, so
the rule, written once here, is: every such object is deleted before its controller and before
everything that controller needs to do that work. ``FINALIZERS`` and ``CONTROLLERS`` are the
data; the guard tests make a new custom resource, chart or add-on take a place in them.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.infra.helpers import one

RELEASE = "kubernetes:helm.sh/v3:Release"
ADDON = "aws:eks/addon:Addon"
EKS = "aws:eks/cluster:Cluster"
ROLE = "aws:iam/role:Role"
GRANTS = ("aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
ROUTE = "aws:ec2/route:Route"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
EGRESS = ("aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip",
          "aws:ec2/internetGateway:InternetGateway", "aws:ec2/vpcEndpoint:VpcEndpoint")


@dataclass(frozen=True)
class Controller:
    """What clears a finalizer: its own resources, and whether it calls AWS to do so."""

    selects: tuple[tuple[str, str, str], ...]
    """(type token, input key, value) of each resource that is the controller."""
    calls_aws: bool
    """True when clearing the finalizer takes AWS API calls from the nodes (NAT, endpoints)."""


CONTROLLERS = {
    "karpenter": Controller(((RELEASE, "name", "karpenter"),), calls_aws=True),
    "opentelemetry-operator": Controller(
        ((ADDON, "addonName", "adot"), (ADDON, "addonName", "cert-manager")), calls_aws=False),
    "eks-network-policy": Controller(((EKS, "name", ""), (ADDON, "addonName", "vpc-cni")),
                                     calls_aws=False),
    "eks-control-plane": Controller(((EKS, "name", ""),), calls_aws=False),
}
"""The controllers of the stack. ``""`` as value: any resource of that type."""

FINALIZERS = {
    # Deleting the pool deletes its NodeClaims, whose karpenter.sh/termination finalizer
    # drains and terminates each instance; the pool waits for them.
    "kubernetes:karpenter.sh/v1:NodePool": "karpenter",
    # karpenter.k8s.aws/termination: waits until no NodeClaim launched from it is left.
    "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass": "karpenter",
    # The operator's finalizer removes the cluster-scoped RBAC it made for the collector; its
    # webhook needs cert-manager's certificates to admit the deletion.
    "kubernetes:opentelemetry.io/v1beta1:OpenTelemetryCollector": "opentelemetry-operator",
    # The EKS network policy controller's networking.k8s.aws/resources finalizer.
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": "eks-network-policy",
    # The namespace controller empties a namespace before its `kubernetes` finalizer goes.
    "kubernetes:core/v1:Namespace": "eks-control-plane",
}
"""Kubernetes types whose objects carry a finalizer, and the controller that clears it."""

NO_FINALIZER = frozenset({
    "kubernetes:apps/v1:Deployment", "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:batch/v1:Job", "kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Service",
    "kubernetes:core/v1:ServiceAccount", "kubernetes:policy/v1:PodDisruptionBudget",
    "kubernetes:rbac.authorization.k8s.io/v1:Role",
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
})
"""Kubernetes types the stack creates that nobody puts a finalizer on (a Job's finalizer is on
its pods, which the Job controller in the control plane clears)."""

NOT_CONTROLLERS = {
    (RELEASE, "karpenter-crd"): "the CRDs only; they outlive the objects of their kinds",
    (ADDON, "kube-proxy"): "forwards Service traffic; clears no finalizer",
    (ADDON, "coredns"): "DNS; clears no finalizer",
    (ADDON, "metrics-server"): "feeds the HPAs; clears no finalizer",
}


def controller_resources(run, name: str) -> list:
    found = [r for token, key, value in CONTROLLERS[name].selects for r in run.of_type(token)
             if not value or r.inputs.get(key) == value]
    assert found, f"controller {name} has no resource in the {run.stack} stack"
    return found


def strings(value) -> set[str]:
    """Every string inside an input value."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return {s for item in value.values() for s in strings(item)}
    if isinstance(value, list):
        return {s for item in value for s in strings(item)}
    return set()


def egress(run) -> list:
    """The nodes' way out: NAT, internet gateway, endpoints, and every route table (with its
    associations) that has a default route."""
    tables = {r.inputs["routeTableId"] for r in run.of_type(ROUTE)
              if r.inputs.get("destinationCidrBlock") == "0.0.0.0/0"}
    return [r for r in run.resources if r.type in EGRESS
            or (r.type in (ROUTE, ASSOCIATION) and r.inputs["routeTableId"] in tables)]


def needs(run, name: str) -> list:
    """Everything a controller needs to clear its finalizers: itself and what it depends on,
    the grants of every IAM role it is given, and the nodes' egress if it calls AWS."""
    own = controller_resources(run, name)
    by_urn = {r.urn: r for r in run.resources}
    needed = {r.urn: r for r in own}
    for resource in own:
        needed.update((urn, by_urn[urn]) for urn in run.outlived_by(resource) if urn in by_urn)
    given = set().union(*(strings(r.inputs) for r in own))
    roles = {r.outputs["name"] for r in run.of_type(ROLE) if r.outputs["arn"] in given}
    for grant in (g for token in GRANTS for g in run.of_type(token)):
        if grant.inputs["role"] in roles:
            needed[grant.urn] = grant
    if CONTROLLERS[name].calls_aws:
        needed.update((r.urn, r) for r in egress(run))
    return list(needed.values())


def test_every_kubernetes_type_is_known_to_carry_a_finalizer_or_not(run):
    types = {r.type for r in run.resources if r.type.startswith("kubernetes:")} - {RELEASE}
    unknown = types - set(FINALIZERS) - NO_FINALIZER
    assert not unknown, f"add {sorted(unknown)} to FINALIZERS (with its controller) or NO_FINALIZER"


def test_every_chart_and_add_on_is_a_known_controller_or_not_one(run):
    named = {(r.type, r.inputs.get("name") or r.inputs.get("addonName"))
             for r in run.of_type(RELEASE) + run.of_type(ADDON)}
    controllers = {(token, value) for c in CONTROLLERS.values()
                   for token, _, value in c.selects if value}
    unknown = named - controllers - set(NOT_CONTROLLERS)
    assert not unknown, f"add {sorted(unknown)} to CONTROLLERS or NOT_CONTROLLERS"


def test_objects_with_finalizers_go_before_their_controller_and_all_it_needs(run):
    checked = 0
    for kind, controller in FINALIZERS.items():
        required = needs(run, controller) if run.of_type(kind) else []
        for resource in run.of_type(kind):
            outlived = run.outlived_by(resource)
            late = sorted(f"{r.type} {r.name}" for r in required if r.urn not in outlived)
            assert not late, (f"{resource.name} ({kind}) may still wait for {controller} when "
                              f"destroy deletes: {late}")
            checked += 1
    assert checked >= 8  # NodePool, EC2NodeClass, namespace, the NetworkPolicies at least


def test_karpenter_needs_its_policy_its_queue_and_the_nodes_it_runs_on(run):
    # Guards the rule's data: what the Karpenter row must cover, by name.
    prefix = f"order-platform-{run.stack}"
    needed = {(r.type, r.name) for r in needs(run, "karpenter")}
    assert {("aws:iam/rolePolicy:RolePolicy", f"{prefix}-karpenter-controller"),
            ("aws:sqs/queue:Queue", f"{prefix}-karpenter-interruption"),
            ("aws:eks/nodeGroup:NodeGroup", f"{prefix}-nodes"),
            ("aws:ec2/natGateway:NatGateway", f"{prefix}-nat-eu-west-1a"),
            (EKS, f"{prefix}-eks")} <= needed


def test_the_collector_goes_before_its_operator_and_cert_manager(stack_runs):
    run = stack_runs["prod"]
    collector = one(run, "kubernetes:opentelemetry.io/v1beta1:OpenTelemetryCollector")
    outlived = run.outlived_by(collector)
    assert {a.inputs["addonName"] for a in run.of_type(ADDON) if a.urn in outlived} >= {
        "adot", "cert-manager"}
