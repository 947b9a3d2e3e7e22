"""EKS rules: secrets encryption, control-plane logs, endpoint exposure, version, node subnets."""

from __future__ import annotations

from dataclasses import dataclass

from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

from guardrails.props import (
    WORLD_CIDRS,
    Report,
    for_types,
    get,
    items,
    label,
    missing,
    of_type,
    truthy,
)
from guardrails.rules import resource_rule, stack_rule
from guardrails.settings import RuleSettings, setting

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
ALL_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
SUPPORTED_VERSIONS = ("1.33", "1.34", "1.35", "1.36")
"""The minors infra/kubernetes_versions.py pins (tests/policies/test_eks_rules.py keeps them equal);
the program itself refuses one past its EKS support date."""


@resource_rule(
    "eks-secrets-encryption",
    "EKS clusters must envelope-encrypt Kubernetes secrets with a KMS key.",
)
@for_types(CLUSTER)
def eks_secrets_encryption(args: ResourceValidationArgs, report: Report) -> None:
    """Kubernetes secrets are envelope-encrypted with a KMS key."""
    # pulumi-aws v7 types encryptionConfig as one object; older programs sent a one-item list.
    for config in items(get(args.props, "encryptionConfig")):
        if "secrets" in {str(r) for r in items(get(config, "resources"))} and get(
            config, "provider.keyArn"
        ):
            return
    report(
        f"Cluster {label(args)} does not envelope-encrypt Kubernetes secrets. Set "
        "encryption_config={'provider': {'key_arn': <KMS key ARN>}, 'resources': ['secrets']}."
    )


@dataclass(frozen=True)
class ControlPlaneLogging(RuleSettings):
    """The settings of eks-control-plane-logging."""

    required_log_types: tuple[str, ...] = setting(
        ALL_LOG_TYPES, "Log types that must be in enabledClusterLogTypes.", choices=ALL_LOG_TYPES)


@resource_rule(
    "eks-control-plane-logging",
    "EKS clusters must send every control-plane log type to CloudWatch Logs.",
    ControlPlaneLogging,
)
@for_types(CLUSTER)
def eks_control_plane_logging(args: ResourceValidationArgs, report: Report) -> None:
    """Every control-plane log type is sent to CloudWatch Logs."""
    required = ControlPlaneLogging.read(args).required_log_types
    absent = missing(required, get(args.props, "enabledClusterLogTypes"))
    if absent:
        report(
            f"Cluster {label(args)} does not log {', '.join(absent)}. Add them to "
            "enabled_cluster_log_types so API calls and auth decisions can be audited."
        )


@dataclass(frozen=True)
class PublicEndpoint(RuleSettings):
    """The settings of eks-public-endpoint-restricted."""

    forbidden_cidrs: tuple[str, ...] = setting(
        tuple(sorted(WORLD_CIDRS)), "CIDRs that publicAccessCidrs may not contain.")


@resource_rule(
    "eks-public-endpoint-restricted",
    "The EKS public API endpoint must not be open to 0.0.0.0/0.",
    PublicEndpoint,
)
@for_types(CLUSTER)
def eks_public_endpoint_restricted(args: ResourceValidationArgs, report: Report) -> None:
    """A public API endpoint, if any, is limited to CIDRs that are not the whole internet."""
    vpc = get(args.props, "vpcConfig", {})
    # AWS turns the public endpoint on unless told otherwise.
    if get(vpc, "endpointPublicAccess") is False:
        return
    cidrs = [str(c) for c in items(get(vpc, "publicAccessCidrs"))]
    forbidden = set(PublicEndpoint.read(args).forbidden_cidrs)
    open_to = sorted(forbidden.intersection(cidrs)) if cidrs else ["0.0.0.0/0 (the AWS default)"]
    if open_to:
        report(
            f"Cluster {label(args)} exposes its public API endpoint to {', '.join(open_to)}. Set "
            "vpc_config.public_access_cidrs to your office/VPN ranges, or "
            "endpoint_public_access=False with endpoint_private_access=True."
        )


@dataclass(frozen=True)
class SupportedVersion(RuleSettings):
    """The settings of eks-supported-version."""

    supported_versions: tuple[str, ...] = setting(
        SUPPORTED_VERSIONS, 'Kubernetes minor versions ("1.36") allowed for the control plane.')


@resource_rule(
    "eks-supported-version",
    "EKS clusters must run a supported Kubernetes version.",
    SupportedVersion,
)
@for_types(CLUSTER)
def eks_supported_version(args: ResourceValidationArgs, report: Report) -> None:
    """The control plane is pinned to a Kubernetes version in standard support."""
    supported = SupportedVersion.read(args).supported_versions
    version = get(args.props, "version")
    if not version:
        report(
            f"Cluster {label(args)} does not pin a Kubernetes version, so AWS picks one. Set "
            f"version to one of {', '.join(supported)}."
        )
    elif str(version) not in supported:
        report(
            f"Cluster {label(args)} runs Kubernetes {version}, which is not in the supported "
            f"list ({', '.join(supported)}). Upgrade version one minor at a time."
        )


def _by_id(resources: list, resource_type: str) -> dict[str, PolicyResource]:
    """Resources of one type keyed by their provider id (the ``id`` output)."""
    return {
        str(get(r.props, "id")): r
        for r in resources
        if r.resource_type == resource_type and get(r.props, "id")
    }


def _public_route_tables(args: StackValidationArgs) -> set[str]:
    """Ids of route tables with a default route to an internet gateway."""
    gateways = set(_by_id(args.resources, INTERNET_GATEWAY))

    def to_internet(route: object) -> bool:
        gateway = str(get(route, "gatewayId", ""))
        return gateway in gateways or gateway.startswith("igw-")

    public = set()
    for r in args.resources:
        if r.resource_type == ROUTE_TABLE and any(map(to_internet, items(get(r.props, "routes")))):
            public.add(str(get(r.props, "id", "")))
        if r.resource_type == ROUTE and to_internet(r.props):
            public.add(str(get(r.props, "routeTableId", "")))
    return public - {""}


def subnets_by_id(args: StackValidationArgs) -> dict[str, PolicyResource]:
    """The stack's subnets keyed by their id."""
    return _by_id(args.resources, SUBNET)


def public_subnet_ids(args: StackValidationArgs) -> set[str]:
    """Subnets that map public IPs or whose route table sends traffic to an internet gateway."""
    public_tables = _public_route_tables(args)
    routed = {
        str(get(r.props, "subnetId", ""))
        for r in args.resources
        if r.resource_type == ROUTE_TABLE_ASSOCIATION
        and str(get(r.props, "routeTableId", "")) in public_tables
    }
    mapped = {
        subnet_id
        for subnet_id, subnet in subnets_by_id(args).items()
        if truthy(get(subnet.props, "mapPublicIpOnLaunch"))
    }
    return routed | mapped


@stack_rule("eks-nodes-in-private-subnets", "EKS managed node groups must run in private subnets.")
def eks_nodes_in_private_subnets(args: StackValidationArgs, report: Report) -> None:
    """Managed node groups use only subnets without public IPs or a route to an IGW."""
    subnets = subnets_by_id(args)
    public_subnets = public_subnet_ids(args)
    for group in of_type(args, NODE_GROUP):
        for subnet_id in (str(s) for s in items(get(group.props, "subnetIds"))):
            subnet = subnets.get(subnet_id)
            if subnet_id in public_subnets:
                name = subnet.name if subnet is not None else subnet_id
                report(
                    f"Node group '{group.name}' places nodes in public subnet '{name}' (it maps "
                    "public IPs or routes 0.0.0.0/0 to an internet gateway). Use the private "
                    "subnets, whose egress goes through NAT, in subnet_ids.",
                    group.urn,
                )


POLICIES = [
    eks_secrets_encryption,
    eks_control_plane_logging,
    eks_public_endpoint_restricted,
    eks_supported_version,
    eks_nodes_in_private_subnets,
]
