"""AWS network and access rules: world-open ingress, admin IAM, ECR hygiene, NLB protection and
TLS, the default security group, encrypted log groups."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from guardrails.catalogue import API_PORTS
from guardrails.props import (
    WORLD_CIDRS,
    Report,
    for_types,
    get,
    items,
    json_value,
    label,
    number,
    of_type,
    truthy,
)
from guardrails.rules import resource_rule, stack_rule
from guardrails.settings import RuleSettings, setting

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
NLB_LISTENER_PORTS = API_PORTS  # the NLB listens on each API process's port
ALL_PROTOCOLS = {"-1", "all"}
IAM_DOCUMENT_TYPES = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
IAM_ROLE = "aws:iam/role:Role"
IAM_ATTACHMENT_TYPES = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)
ADMIN_POLICY_SUFFIX = ":iam::aws:policy/AdministratorAccess"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
TLS_PROTOCOLS = {"TLS", "HTTPS"}
VPC = "aws:ec2/vpc:Vpc"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def _world_ingress(args: ResourceValidationArgs) -> list[Mapping]:
    """The ingress entries of any security-group flavour that admit 0.0.0.0/0 or ::/0."""
    props = args.props
    if args.resource_type == SECURITY_GROUP:
        entries = [e for e in items(get(props, "ingress")) if isinstance(e, Mapping)]
        cidrs = [items(get(e, "cidrBlocks")) + items(get(e, "ipv6CidrBlocks")) for e in entries]
    elif args.resource_type == SECURITY_GROUP_RULE:
        if str(get(props, "type", "")) != "ingress":
            return []
        entries = [props]
        cidrs = [items(get(props, "cidrBlocks")) + items(get(props, "ipv6CidrBlocks"))]
    else:
        entries = [props]
        cidrs = [[get(props, "cidrIpv4"), get(props, "cidrIpv6")]]
    return [e for e, c in zip(entries, cidrs, strict=True) if WORLD_CIDRS.intersection(map(str, c))]


def _ports(entry: Mapping) -> tuple[str, int | None, int | None]:
    """(protocol, from port, to port) of an ingress entry in any of the three shapes."""
    protocol = str(get(entry, "protocol", get(entry, "ipProtocol", "-1"))).lower()
    low, high = number(get(entry, "fromPort")), number(get(entry, "toPort"))
    return protocol, None if low is None else int(low), None if high is None else int(high)


@dataclass(frozen=True)
class NoPublicIngress(RuleSettings):
    """The settings of security-group-no-public-ingress."""

    allowed_ports: tuple[int, ...] = setting(
        NLB_LISTENER_PORTS, "TCP ports (the NLB listener ports) that may be open to 0.0.0.0/0.",
        minimum=0, maximum=65535)


@resource_rule(
    "security-group-no-public-ingress",
    "No security group ingress from 0.0.0.0/0 except on the NLB listener ports.",
    NoPublicIngress,
)
@for_types(SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE)
def security_group_no_public_ingress(args: ResourceValidationArgs, report: Report) -> None:
    """World-open ingress is allowed only for TCP on the NLB listener ports."""
    allowed = set(NoPublicIngress.read(args).allowed_ports)
    for entry in _world_ingress(args):
        protocol, low, high = _ports(entry)
        tcp = protocol in {"tcp", "6"}
        span = set(range(low, high + 1)) if tcp and low is not None and high is not None else None
        if span is None or not span <= allowed:
            shown = "all ports" if span is None else f"ports {low}-{high}"
            report(
                f"Security group {label(args)} admits the whole internet on {protocol} "
                f"{shown}. Only TCP {sorted(allowed)} (the NLB listeners) may be open to "
                "0.0.0.0/0; use the VPC CIDR, a prefix list or a source security group instead."
            )


def _is_admin_statement(statement: object) -> bool:
    """An Allow of every action (or of everything but a few) on every resource."""
    if not isinstance(statement, Mapping) or str(get(statement, "Effect", "")) != "Allow":
        return False
    actions = {str(a) for a in items(get(statement, "Action"))}
    resources = {str(r) for r in items(get(statement, "Resource"))}
    every_action = bool(actions & {"*", "*:*"}) or bool(get(statement, "NotAction"))
    return every_action and "*" in resources


def _documents(args: ResourceValidationArgs) -> list[tuple[str, object]]:
    """(where, policy document) pairs held by an IAM resource."""
    if args.resource_type == IAM_ROLE:
        return [
            (f"inline policy {get(p, 'name', '?')}", get(p, "policy"))
            for p in items(get(args.props, "inlinePolicies"))
        ]
    return [("policy", get(args.props, "policy"))]


@resource_rule("iam-no-wildcard-admin", "No IAM policy may allow '*' actions on '*' resources.")
@for_types(*IAM_DOCUMENT_TYPES, IAM_ROLE, *IAM_ATTACHMENT_TYPES)
def iam_no_wildcard_admin(args: ResourceValidationArgs, report: Report) -> None:
    """No statement allows ``*`` actions on ``*`` resources; AdministratorAccess is not attached."""
    if args.resource_type in IAM_ATTACHMENT_TYPES:
        if str(get(args.props, "policyArn", "")).endswith(ADMIN_POLICY_SUFFIX):
            report(
                f"{label(args)} attaches AdministratorAccess. Attach a policy that names the "
                "actions and resource ARNs this principal needs."
            )
        return
    for where, document in _documents(args):
        parsed = json_value(document)
        statements = items(get(parsed, "Statement")) if isinstance(parsed, Mapping) else []
        if any(_is_admin_statement(s) for s in statements):
            report(
                f"IAM {label(args)} {where} allows '*' actions on '*' resources. List the exact "
                "actions and resource ARNs (for example sqs:ReceiveMessage on the queue's ARN)."
            )


@resource_rule("ecr-scan-on-push", "ECR repositories must scan images on push.")
@for_types(ECR_REPOSITORY)
def ecr_scan_on_push(args: ResourceValidationArgs, report: Report) -> None:
    """Images are scanned for vulnerabilities when pushed."""
    if not truthy(get(args.props, "imageScanningConfiguration.scanOnPush")):
        report(
            f"Repository {label(args)} does not scan images on push. Set "
            "image_scanning_configuration={'scan_on_push': True}."
        )


@resource_rule("ecr-immutable-tags", "ECR repositories must have immutable image tags.")
@for_types(ECR_REPOSITORY)
def ecr_immutable_tags(args: ResourceValidationArgs, report: Report) -> None:
    """A pushed tag always names the same image."""
    mutability = str(get(args.props, "imageTagMutability", "MUTABLE"))
    if mutability != "IMMUTABLE":
        report(
            f"Repository {label(args)} has imageTagMutability {mutability}, so a tag can be "
            "re-pointed under running pods. Set image_tag_mutability='IMMUTABLE'."
        )


@resource_rule(
    "nlb-deletion-protection",
    "The network load balancer must have deletion protection (prod).",
)
@for_types(*LOAD_BALANCERS)
def nlb_deletion_protection(args: ResourceValidationArgs, report: Report) -> None:
    """A network load balancer cannot be deleted by accident."""
    if str(get(args.props, "loadBalancerType", "application")) != "network":
        return
    if not truthy(get(args.props, "enableDeletionProtection")):
        report(
            f"Network load balancer {label(args)} has deletion protection off, so a replace or a "
            "stray destroy takes the API offline and changes its DNS name. Set "
            "enable_deletion_protection=True for this environment."
        )


@dataclass(frozen=True)
class ListenerTls(RuleSettings):
    """The settings of nlb-listener-tls."""

    allowed_policies: tuple[str, ...] = setting(
        ("ELBSecurityPolicy-TLS13-1-3-2021-06", "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09"),
        "Security policies a TLS listener may use (TLS 1.3 only by default).")


@resource_rule(
    "nlb-listener-tls",
    "Load balancer listeners must terminate TLS with an allowed (TLS 1.3) security policy.",
    ListenerTls,
)
@for_types(*LISTENERS)
def nlb_listener_tls(args: ResourceValidationArgs, report: Report) -> None:
    """No plain TCP or HTTP listener: bearer tokens and orders never cross the internet in clear."""
    protocol = str(get(args.props, "protocol", "")).upper()
    allowed = ListenerTls.read(args).allowed_policies
    if protocol not in TLS_PROTOCOLS:
        report(
            f"Listener {label(args)} is plain {protocol or 'TCP'}: tokens and order data cross "
            "the internet in clear text. Set apiTls in the stack file to a domain with its "
            "hostedZoneId (or a certificateArn), so the listener is TLS with an ACM certificate."
        )
    elif str(get(args.props, "sslPolicy", "")) not in allowed:
        report(
            f"Listener {label(args)} uses security policy "
            f"{get(args.props, 'sslPolicy', 'the provider default (TLS 1.0+)')}; set "
            f"ssl_policy to one of {list(allowed)}."
        )


@stack_rule(
    "vpc-default-security-group-closed",
    "Each VPC's default security group must be adopted with no rules.",
)
def vpc_default_security_group_closed(args: StackValidationArgs, report: Report) -> None:
    """Every VPC's default security group is adopted by the program and has no rules."""
    adopted = set()
    for group in of_type(args, DEFAULT_SECURITY_GROUP):
        adopted.add(str(get(group.props, "vpcId", "")))
        rules = items(get(group.props, "ingress")) + items(get(group.props, "egress"))
        if rules:
            report(
                f"Default security group '{group.name}' keeps {len(rules)} rule(s), so anything "
                "launched without a group of its own is reachable. Remove its ingress and "
                "egress; give each resource a security group that names what it needs.",
                group.urn,
            )
    for vpc in args.resources:
        if vpc.resource_type == VPC and str(get(vpc.props, "id", "")) not in adopted:
            report(
                f"VPC '{vpc.name}' leaves its default security group as AWS made it (all "
                "traffic between its members, all egress). Adopt it with "
                "aws.ec2.DefaultSecurityGroup(vpc_id=...) and no ingress or egress.",
                vpc.urn,
            )


@resource_rule(
    "cloudwatch-log-group-kms",
    "CloudWatch log groups must be encrypted with a customer-managed KMS key.",
)
@for_types(LOG_GROUP)
def cloudwatch_log_group_kms(args: ResourceValidationArgs, report: Report) -> None:
    """Log groups are encrypted with a customer-managed KMS key."""
    if not get(args.props, "kmsKeyId"):
        report(
            f"Log group {label(args)} is encrypted only with CloudWatch's own key, which no key "
            "policy of yours controls. Set kms_key_id to the stack's logs key (LogEncryption), "
            "whose policy lets logs.<region>.amazonaws.com use it for this account's log groups."
        )


POLICIES = [
    security_group_no_public_ingress,
    iam_no_wildcard_admin,
    ecr_scan_on_push,
    ecr_immutable_tags,
    nlb_deletion_protection,
    nlb_listener_tls,
    vpc_default_security_group_closed,
    cloudwatch_log_group_kms,
]
