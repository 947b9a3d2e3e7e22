"""The ElastiCache rules, each both ways, with props as the engine sends them."""

import pytest

from guardrails import elasticache
from tests.policies import engine_view as view
from tests.policies.engine_view import DELETE, changed, messages, urn_of

GROUP = elasticache.REPLICATION_GROUP
KEY = "arn:aws:kms:eu-west-1:123456789012:key/0000"
GOOD_GROUP = {
    "replicationGroupId": "op-prod-cache",
    "engine": "valkey",
    "numCacheClusters": 2,
    "automaticFailoverEnabled": True,
    "multiAzEnabled": True,
    "preferredCacheClusterAzs": ["eu-west-1a", "eu-west-1b"],
    "subnetGroupName": "op-prod-cache",
    "securityGroupIds": ["sg-1"],
    "atRestEncryptionEnabled": True,
    "kmsKeyId": KEY,
    "transitEncryptionEnabled": True,
    "transitEncryptionMode": "required",
    "authToken": "x" * 64,
}
GOOD_SERVERLESS = {"engine": "valkey", "kmsKeyId": KEY, "userGroupId": "users",
                   "subnetIds": ["subnet-priv"]}
RESOURCE_RULES = [elasticache.elasticache_encryption_in_transit,
                  elasticache.elasticache_encryption_at_rest,
                  elasticache.elasticache_auth_required,
                  elasticache.elasticache_automatic_failover]


def check(policy, props, resource_type=GROUP, **config):
    args = view.resource_args(policy, resource_type, props, name="cache", **config)
    return messages(policy, args)


@pytest.mark.parametrize("policy", RESOURCE_RULES, ids=lambda p: p.name)
def test_a_well_built_replication_group_passes(policy):
    assert check(policy, GOOD_GROUP) == []


@pytest.mark.parametrize(("change", "expected"), [
    ({"transitEncryptionEnabled": False}, "accepts plaintext connections"),
    ({"transitEncryptionEnabled": DELETE}, "accepts plaintext connections"),
    ({"transitEncryptionMode": "preferred"}, "transit_encryption_mode='required'"),
])
def test_plaintext_is_reported(change, expected):
    (message,) = check(elasticache.elasticache_encryption_in_transit,
                       changed(GOOD_GROUP, **change))
    assert expected in message and "'cache'" in message


@pytest.mark.parametrize(("change", "expected"), [
    ({"atRestEncryptionEnabled": False}, "does not encrypt data at rest"),
    ({"atRestEncryptionEnabled": DELETE}, "does not encrypt data at rest"),
    ({"kmsKeyId": DELETE}, "AWS-managed key"),
    ({"kmsKeyId": "alias/aws/elasticache"}, "AWS-managed key"),
])
def test_at_rest_without_our_key_is_reported(change, expected):
    (message,) = check(elasticache.elasticache_encryption_at_rest, changed(GOOD_GROUP, **change))
    assert expected in message and "kms_key_id" in message


@pytest.mark.parametrize("change", [
    {"authToken": DELETE}, {"authToken": ""}, {"authToken": DELETE, "userGroupIds": []}])
def test_no_auth_is_reported(change):
    (message,) = check(elasticache.elasticache_auth_required, changed(GOOD_GROUP, **change))
    assert "without a password" in message and "auth_token" in message


def test_rbac_users_or_a_write_only_token_count_as_auth():
    for props in (changed(GOOD_GROUP, authToken=DELETE, userGroupIds=["users"]),
                  changed(GOOD_GROUP, authToken=DELETE, authTokenWo="y" * 32)):
        assert check(elasticache.elasticache_auth_required, props) == []


@pytest.mark.parametrize(("change", "expected"), [
    ({"numCacheClusters": 1, "automaticFailoverEnabled": False, "multiAzEnabled": False},
     "has 0 replica(s) (automaticFailoverEnabled and multiAzEnabled off)"),
    ({"multiAzEnabled": False}, "has 1 replica(s) (multiAzEnabled off)"),
    ({"numCacheClusters": 1}, "has 0 replica(s); at least 1"),
])
def test_no_failover_is_reported(change, expected):
    (message,) = check(elasticache.elasticache_automatic_failover, changed(GOOD_GROUP, **change))
    assert expected in message and "cacheReplicaCount" in message


def test_the_minimum_replica_count_is_configurable():
    policy = elasticache.elasticache_automatic_failover
    assert check(policy, GOOD_GROUP, minimumReplicas=2) != []
    assert check(policy, changed(GOOD_GROUP, numCacheClusters=3), minimumReplicas=2) == []


def test_a_serverless_cache_is_judged_on_what_it_can_set():
    assert check(elasticache.elasticache_encryption_at_rest, GOOD_SERVERLESS,
                 elasticache.SERVERLESS_CACHE) == []
    assert check(elasticache.elasticache_auth_required, GOOD_SERVERLESS,
                 elasticache.SERVERLESS_CACHE) == []
    (message,) = check(elasticache.elasticache_auth_required,
                       changed(GOOD_SERVERLESS, userGroupId=DELETE), elasticache.SERVERLESS_CACHE)
    assert "user_group_id" in message


@pytest.mark.parametrize("policy", [elasticache.elasticache_encryption_at_rest,
                                    elasticache.elasticache_auth_required,
                                    elasticache.elasticache_automatic_failover],
                         ids=lambda p: p.name)
def test_a_bare_valkey_cluster_is_told_to_be_a_replication_group(policy):
    (message,) = check(policy, {"engine": "valkey", "nodeType": "cache.t4g.small"},
                       elasticache.CLUSTER)
    assert "aws.elasticache.ReplicationGroup" in message
    assert check(policy, {"replicationGroupId": "g"}, elasticache.CLUSTER) == []


def _network(cache_subnets, *, group_name="op-cache", serverless=False):
    resources = [
        ("aws:ec2/subnet:Subnet", "private-a", {"id": "subnet-priv"}),
        ("aws:ec2/subnet:Subnet", "public-a", {"id": "subnet-pub"}),
        ("aws:ec2/routeTable:RouteTable", "public-rt", {"id": "rtb-pub"}),
        ("aws:ec2/route:Route", "public-default",
         {"routeTableId": "rtb-pub", "gatewayId": "igw-0aaa", "destinationCidrBlock": "0.0.0.0/0"}),
        ("aws:ec2/routeTableAssociation:RouteTableAssociation", "public-a",
         {"id": "rtbassoc-1", "subnetId": "subnet-pub", "routeTableId": "rtb-pub"}),
    ]
    if serverless:
        resources.append((elasticache.SERVERLESS_CACHE, "cache",
                          changed(GOOD_SERVERLESS, subnetIds=cache_subnets)))
    else:
        resources += [(elasticache.SUBNET_GROUP, "cache-subnets",
                       {"name": "op-cache", "subnetIds": cache_subnets}),
                      (GROUP, "cache", changed(GOOD_GROUP, subnetGroupName=group_name))]
    return view.stack_args(elasticache.elasticache_private_subnets, resources)


@pytest.mark.parametrize("serverless", [False, True])
def test_private_subnets_pass(serverless):
    assert view.violations(elasticache.elasticache_private_subnets,
                      _network(["subnet-priv"], serverless=serverless)) == []


@pytest.mark.parametrize("serverless", [False, True])
def test_a_public_subnet_is_reported_on_the_cache(serverless):
    ((message, urn),) = view.violations(elasticache.elasticache_private_subnets,
                                   _network(["subnet-priv", "subnet-pub"], serverless=serverless))
    assert "public subnet(s) public-a" in message
    kind = elasticache.SERVERLESS_CACHE if serverless else GROUP
    assert urn == urn_of(kind, "cache")


@pytest.mark.parametrize("group_name", ["", "someone-elses"])
def test_a_cache_without_a_subnet_group_of_the_stack_is_reported(group_name):
    ((message, _),) = view.violations(elasticache.elasticache_private_subnets,
                                 _network(["subnet-priv"], group_name=group_name))
    assert "default VPC's public subnets" in message
