"""EKS rules, each with violating and compliant resources as the engine presents them."""

import pytest

from guardrails import eks
from tests.policies import engine_view as view
from tests.policies.engine_view import DELETE, changed, messages, urn_of

KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/0b1c2d3e-0000-4000-8000-000000000002"
GOOD_CLUSTER = {
    "name": "order-platform-prod",
    "roleArn": "arn:aws:iam::123456789012:role/order-platform-prod-cluster",
    "version": "1.34",
    "encryptionConfig": {"provider": {"keyArn": KEY_ARN}, "resources": ["secrets"]},
    "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
    "vpcConfig": {
        "subnetIds": ["subnet-a", "subnet-b"],
        "endpointPrivateAccess": True,
        "endpointPublicAccess": True,
        "publicAccessCidrs": ["198.51.100.0/24"],
    },
}


def check(policy, props, **config):
    return messages(policy, view.resource_args(policy, eks.CLUSTER, props, name="eks", **config))


@pytest.mark.parametrize(
    "policy", [p for p in eks.POLICIES if p is not eks.eks_nodes_in_private_subnets]
)
def test_a_well_built_cluster_passes(policy):
    assert check(policy, GOOD_CLUSTER) == []


@pytest.mark.parametrize(
    "props",
    [
        changed(GOOD_CLUSTER, encryptionConfig=DELETE),
        changed(GOOD_CLUSTER, encryptionConfig__resources=[]),
        changed(GOOD_CLUSTER, encryptionConfig__provider__keyArn=""),
    ],
)
def test_secrets_must_be_envelope_encrypted(props):
    found = check(eks.eks_secrets_encryption, props)
    assert len(found) == 1 and "encryption_config" in found[0]


def test_secrets_encryption_as_a_one_item_list_is_understood():
    props = changed(GOOD_CLUSTER, encryptionConfig=[GOOD_CLUSTER["encryptionConfig"]])
    assert check(eks.eks_secrets_encryption, props) == []


def test_every_control_plane_log_type_is_required():
    props = changed(GOOD_CLUSTER, enabledClusterLogTypes=["api", "audit"])
    found = check(eks.eks_control_plane_logging, props)
    assert len(found) == 1 and "authenticator, controllerManager, scheduler" in found[0]
    assert check(eks.eks_control_plane_logging, props, requiredLogTypes=["api", "audit"]) == []


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        (changed(GOOD_CLUSTER, vpcConfig__publicAccessCidrs=["0.0.0.0/0"]), "0.0.0.0/0"),
        (changed(GOOD_CLUSTER, vpcConfig__publicAccessCidrs=["10.0.0.0/8", "::/0"]), "::/0"),
        (changed(GOOD_CLUSTER, vpcConfig__publicAccessCidrs=DELETE), "the AWS default"),
        (
            changed(
                GOOD_CLUSTER,
                vpcConfig__endpointPublicAccess=DELETE,
                vpcConfig__publicAccessCidrs=DELETE,
            ),
            "the AWS default",
        ),
    ],
)
def test_public_endpoint_must_not_be_open_to_the_world(props, expected):
    found = check(eks.eks_public_endpoint_restricted, props)
    assert len(found) == 1 and expected in found[0]


def test_a_private_only_endpoint_passes():
    props = changed(
        GOOD_CLUSTER, vpcConfig__endpointPublicAccess=False, vpcConfig__publicAccessCidrs=DELETE
    )
    assert check(eks.eks_public_endpoint_restricted, props) == []


def test_version_must_be_pinned_and_supported():
    assert (
        "does not pin" in check(eks.eks_supported_version, changed(GOOD_CLUSTER, version=DELETE))[0]
    )
    found = check(eks.eks_supported_version, changed(GOOD_CLUSTER, version="1.27"))
    assert len(found) == 1 and "1.27" in found[0]
    assert check(eks.eks_supported_version, GOOD_CLUSTER, supportedVersions=["1.33"]) != []
    assert check(eks.eks_supported_version, GOOD_CLUSTER, supportedVersions=["1.34"]) == []


def test_the_packs_versions_are_the_programs():
    from infra.accepted_values import KUBERNETES_VERSIONS

    assert eks.SUPPORTED_VERSIONS == KUBERNETES_VERSIONS


SUBNET, RT, RTA, ROUTE, IGW = (
    eks.SUBNET,
    eks.ROUTE_TABLE,
    eks.ROUTE_TABLE_ASSOCIATION,
    eks.ROUTE,
    eks.INTERNET_GATEWAY,
)


def _network(node_subnets, public_via="route"):
    """A VPC with one public and one private subnet; nodes go where ``node_subnets`` say."""
    resources = [
        (IGW, "igw", {"id": "igw-0aaa", "vpcId": "vpc-1"}),
        (SUBNET, "public-a", {"id": "subnet-pub", "vpcId": "vpc-1", "cidrBlock": "10.0.0.0/20"}),
        (
            SUBNET,
            "private-a",
            {
                "id": "subnet-priv",
                "vpcId": "vpc-1",
                "cidrBlock": "10.0.16.0/20",
                "mapPublicIpOnLaunch": False,
            },
        ),
        (RT, "public-rt", {"id": "rtb-pub", "vpcId": "vpc-1"}),
        (
            RT,
            "private-rt",
            {
                "id": "rtb-priv",
                "vpcId": "vpc-1",
                "routes": [{"cidrBlock": "0.0.0.0/0", "natGatewayId": "nat-1"}],
            },
        ),
        (
            RTA,
            "public-a",
            {"id": "rtbassoc-1", "subnetId": "subnet-pub", "routeTableId": "rtb-pub"},
        ),
        (
            RTA,
            "private-a",
            {"id": "rtbassoc-2", "subnetId": "subnet-priv", "routeTableId": "rtb-priv"},
        ),
        (eks.NODE_GROUP, "nodes", {"clusterName": "c", "subnetIds": node_subnets}),
    ]
    if public_via == "route":
        resources.append(
            (
                ROUTE,
                "public-default",
                {
                    "routeTableId": "rtb-pub",
                    "gatewayId": "igw-0aaa",
                    "destinationCidrBlock": "0.0.0.0/0",
                },
            )
        )
    elif public_via == "inline":
        resources[3] = (
            RT,
            "public-rt",
            {"id": "rtb-pub", "routes": [{"cidrBlock": "0.0.0.0/0", "gatewayId": "igw-0aaa"}]},
        )
    elif public_via == "map-public-ip":
        resources[1] = (SUBNET, "public-a", {"id": "subnet-pub", "mapPublicIpOnLaunch": True})
    return view.stack_args(eks.eks_nodes_in_private_subnets, resources)


def test_nodes_in_private_subnets_pass():
    assert messages(eks.eks_nodes_in_private_subnets, _network(["subnet-priv"])) == []


@pytest.mark.parametrize("public_via", ["route", "inline", "map-public-ip"])
def test_nodes_in_a_public_subnet_are_reported_on_the_node_group(public_via):
    found = view.violations(
        eks.eks_nodes_in_private_subnets, _network(["subnet-priv", "subnet-pub"], public_via)
    )
    assert len(found) == 1
    message, urn = found[0]
    assert "public subnet 'public-a'" in message
    assert urn == urn_of(eks.NODE_GROUP, "nodes")
