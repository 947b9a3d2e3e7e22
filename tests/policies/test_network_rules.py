"""Network and access rules: ingress, IAM, ECR, NLB, tags; violating and compliant cases."""

import json

import pytest

from guardrails import network, tags
from tests.policies.engine_view import DELETE, changed, messages, provider, resource_args

SG, SG_RULE, INGRESS = network.SECURITY_GROUP, network.SECURITY_GROUP_RULE, network.INGRESS_RULE
NO_WORLD = network.security_group_no_public_ingress


def check(policy, resource_type, props, **kwargs):
    return messages(policy, resource_args(policy, resource_type, props, **kwargs))


def sg(*entries):
    return {"vpcId": "vpc-1", "description": "d", "ingress": list(entries)}


def entry(cidr, low, high, protocol="tcp"):
    return {"protocol": protocol, "fromPort": low, "toPort": high, "cidrBlocks": [cidr]}


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        (SG, sg(entry("0.0.0.0/0", 3000, 3000), entry("0.0.0.0/0", 3001, 3001))),
        (SG, sg(entry("0.0.0.0/0", 3000, 3001))),
        (SG, sg(entry("10.0.0.0/16", 0, 65535, "-1"))),
        (
            SG_RULE,
            {
                "type": "ingress",
                "protocol": "tcp",
                "fromPort": 5432,
                "toPort": 5432,
                "sourceSecurityGroupId": "sg-nodes",
                "securityGroupId": "sg-db",
            },
        ),
        (
            SG_RULE,
            {
                "type": "egress",
                "protocol": "-1",
                "fromPort": 0,
                "toPort": 0,
                "cidrBlocks": ["0.0.0.0/0"],
                "securityGroupId": "sg-db",
            },
        ),
        (
            INGRESS,
            {
                "cidrIpv4": "0.0.0.0/0",
                "ipProtocol": "tcp",
                "fromPort": 3001,
                "toPort": 3001,
                "securityGroupId": "sg-nlb",
            },
        ),
        (INGRESS, {"cidrIpv4": "10.0.0.0/16", "ipProtocol": "-1", "securityGroupId": "sg-nlb"}),
    ],
)
def test_ingress_that_is_private_or_on_listener_ports_passes(resource_type, props):
    assert check(NO_WORLD, resource_type, props) == []


@pytest.mark.parametrize(
    ("resource_type", "props", "expected"),
    [
        (SG, sg(entry("0.0.0.0/0", 22, 22)), "tcp ports 22-22"),
        (SG, sg(entry("0.0.0.0/0", 3000, 3002)), "tcp ports 3000-3002"),
        (SG, sg(entry("0.0.0.0/0", 0, 0, "-1")), "-1 all ports"),
        (
            SG,
            sg({"protocol": "tcp", "fromPort": 443, "toPort": 443, "ipv6CidrBlocks": ["::/0"]}),
            "ports 443-443",
        ),
        (
            SG_RULE,
            {
                "type": "ingress",
                "protocol": "tcp",
                "fromPort": 5432,
                "toPort": 5432,
                "cidrBlocks": ["0.0.0.0/0"],
                "securityGroupId": "sg-db",
            },
            "ports 5432-5432",
        ),
        (
            INGRESS,
            {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "-1", "securityGroupId": "sg-db"},
            "all ports",
        ),
        (
            INGRESS,
            {
                "cidrIpv6": "::/0",
                "ipProtocol": "udp",
                "fromPort": 3000,
                "toPort": 3000,
                "securityGroupId": "sg-db",
            },
            "udp",
        ),
    ],
)
def test_world_open_ingress_elsewhere_fails(resource_type, props, expected):
    found = check(NO_WORLD, resource_type, props)
    assert len(found) == 1 and expected in found[0] and "NLB listeners" in found[0]


def test_allowed_ports_are_configurable():
    props = sg(entry("0.0.0.0/0", 443, 443))
    assert check(NO_WORLD, SG, props, allowedPorts=[443]) == []
    assert check(NO_WORLD, SG, sg(entry("0.0.0.0/0", 3000, 3000)), allowedPorts=[443]) != []


ADMIN = {"Effect": "Allow", "Action": "*", "Resource": "*"}
SCOPED = {
    "Effect": "Allow",
    "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
    "Resource": "arn:aws:sqs:eu-west-1:123456789012:stock",
}


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        ("aws:iam/policy:Policy", {"policy": doc(SCOPED)}),
        ("aws:iam/rolePolicy:RolePolicy", {"role": "r", "policy": doc(SCOPED)}),
        (
            "aws:iam/rolePolicy:RolePolicy",
            {"role": "r", "policy": doc({"Effect": "Deny", "Action": "*", "Resource": "*"})},
        ),
        (
            "aws:iam/policy:Policy",
            {"policy": doc({"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"})},
        ),
        (
            "aws:iam/role:Role",
            {
                "assumeRolePolicy": doc(SCOPED),
                "inlinePolicies": [{"name": "q", "policy": doc(SCOPED)}],
            },
        ),
        (
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"},
        ),
    ],
)
def test_scoped_iam_passes(resource_type, props):
    assert check(network.iam_no_wildcard_admin, resource_type, props) == []


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        ("aws:iam/policy:Policy", {"policy": doc(SCOPED, ADMIN)}),
        ("aws:iam/rolePolicy:RolePolicy", {"role": "r", "policy": doc({**ADMIN, "Action": ["*"]})}),
        ("aws:iam/userPolicy:UserPolicy", {"user": "u", "policy": doc({**ADMIN, "Action": "*:*"})}),
        (
            "aws:iam/groupPolicy:GroupPolicy",
            {
                "group": "g",
                "policy": doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
            },
        ),
        ("aws:iam/role:Role", {"inlinePolicies": [{"name": "admin", "policy": doc(ADMIN)}]}),
        (
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ),
    ],
)
def test_wildcard_admin_fails(resource_type, props):
    found = check(network.iam_no_wildcard_admin, resource_type, props)
    assert len(found) == 1 and (
        "'*' actions on '*' resources" in found[0] or "AdministratorAccess" in found[0]
    )


GOOD_REPO = {
    "name": "op",
    "imageTagMutability": "IMMUTABLE",
    "imageScanningConfiguration": {"scanOnPush": True},
}


def test_ecr_repository_with_scanning_and_immutable_tags_passes():
    for policy in (network.ecr_scan_on_push, network.ecr_immutable_tags):
        assert check(policy, network.ECR_REPOSITORY, GOOD_REPO) == []


@pytest.mark.parametrize(
    "props",
    [
        changed(GOOD_REPO, imageScanningConfiguration=DELETE),
        changed(GOOD_REPO, imageScanningConfiguration__scanOnPush=False),
    ],
)
def test_ecr_without_scan_on_push_fails(props):
    found = check(network.ecr_scan_on_push, network.ECR_REPOSITORY, props)
    assert len(found) == 1 and "scan_on_push" in found[0]


@pytest.mark.parametrize(
    "props",
    [
        changed(GOOD_REPO, imageTagMutability=DELETE),
        changed(GOOD_REPO, imageTagMutability="MUTABLE"),
    ],
)
def test_ecr_with_mutable_tags_fails(props):
    found = check(network.ecr_immutable_tags, network.ECR_REPOSITORY, props)
    assert len(found) == 1 and "IMMUTABLE" in found[0]


LB = network.LOAD_BALANCERS[0]


@pytest.mark.parametrize(("props", "found"), [
    ({"protocol": "TLS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-3-2021-06",
      "certificateArn": "arn:aws:acm:eu-west-1:1:certificate/x"}, None),
    ({"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09"}, None),
    ({"protocol": "TCP"}, "is plain TCP"),
    ({"protocol": "HTTP"}, "is plain HTTP"),
    ({}, "is plain TCP"),
    ({"protocol": "TLS"}, "the provider default (TLS 1.0+)"),
    ({"protocol": "TLS", "sslPolicy": "ELBSecurityPolicy-2016-08"}, "ELBSecurityPolicy-2016-08"),
    ({"protocol": "TLS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"}, "TLS13-1-2"),
])
def test_listeners_must_terminate_tls_1_3(props, found):
    result = check(network.nlb_listener_tls, network.LISTENERS[0],
                   {"loadBalancerArn": "arn:lb", "port": 3000, **props})
    if found is None:
        assert result == []
    else:
        assert len(result) == 1 and found in result[0]


def test_a_stack_may_allow_another_tls_policy():
    props = {"protocol": "TLS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"}
    assert check(network.nlb_listener_tls, network.LISTENERS[0], props,
                 allowedPolicies=["ELBSecurityPolicy-TLS13-1-2-2021-06"]) == []


def test_nlb_needs_deletion_protection():
    policy = network.nlb_deletion_protection
    nlb = {"loadBalancerType": "network", "internal": False, "enableDeletionProtection": True}
    assert check(policy, LB, nlb) == []
    found = check(policy, LB, changed(nlb, enableDeletionProtection=DELETE))
    assert len(found) == 1 and "enable_deletion_protection=True" in found[0]
    assert check(policy, LB, changed(nlb, enableDeletionProtection=False)) != []
    # Application load balancers are not what this rule is about.
    assert check(policy, LB, {"loadBalancerType": "application"}) == []


REQUIRED = {"environment": "prod", "owner": "platform-team", "cost-center": "orders-prod"}
QUEUE = "aws:sqs/queue:Queue"


def aws_provider(tags_):
    # The engine hands over provider inputs with objects JSON-encoded, as pulumi-aws sends them.
    return provider("aws", {"region": "eu-west-1", "defaultTags": json.dumps({"tags": tags_})})


def test_tags_from_the_provider_defaults_pass():
    args = resource_args(
        tags.required_tags, QUEUE, {"name": "q"}, provider_resource=aws_provider(REQUIRED)
    )
    assert messages(tags.required_tags, args) == []


def test_tags_on_the_resource_complete_the_defaults():
    partial = {k: v for k, v in REQUIRED.items() if k != "owner"}
    args = resource_args(
        tags.required_tags,
        QUEUE,
        {"tags": {"owner": "orders-team"}},
        provider_resource=aws_provider(partial),
    )
    assert messages(tags.required_tags, args) == []


@pytest.mark.parametrize(
    ("provider_tags", "own_tags", "missing"),
    [
        ({}, {}, "environment, owner, cost-center"),
        ({"environment": "prod", "owner": "x"}, {}, "cost-center"),
        (REQUIRED, {"owner": ""}, "owner"),
    ],
)
def test_missing_required_tags_fail(provider_tags, own_tags, missing):
    args = resource_args(
        tags.required_tags, QUEUE, {"tags": own_tags}, provider_resource=aws_provider(provider_tags)
    )
    found = messages(tags.required_tags, args)
    assert len(found) == 1 and f"missing the tag(s) {missing}" in found[0]
    assert "default_tags" in found[0]


def test_untaggable_types_and_default_providers_without_tags():
    # A route cannot carry tags, so it is not held to the rule.
    args = resource_args(tags.required_tags, "aws:ec2/route:Route", {"routeTableId": "rtb-1"})
    assert messages(tags.required_tags, args) == []
    # A taggable resource with no provider information and no tags is caught.
    args = resource_args(tags.required_tags, QUEUE, {"name": "q"})
    assert len(messages(tags.required_tags, args)) == 1


def test_required_tag_keys_are_configurable():
    args = resource_args(
        tags.required_tags, QUEUE, {"tags": {"team": "orders"}}, requiredTags=["team"]
    )
    assert messages(tags.required_tags, args) == []
