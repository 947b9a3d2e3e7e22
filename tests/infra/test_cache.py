"""The product cache: on where the stack says it is, wired from outputs, for its clients only."""

from __future__ import annotations

import json

import pytest

from infra import outputs
from infra.components.cache import CACHE_PORT, CLIENT_ROLES
from infra.config import StackConfigError
from infra.simulation import run_stack
from order_platform import processes
from tests.infra.helpers import config_value, k8s_named, k8s_objects, one, prefix

GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
TOKEN = "random:index/randomPassword:RandomPassword"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
CACHE_TYPES = (GROUP, SECRET, SECRET_VERSION, TOKEN, "aws:elasticache/subnetGroup:SubnetGroup")


def config_map(run) -> dict:
    return k8s_named(run, "ConfigMap", "order-platform-config").inputs["data"]


def cache_key(run):
    cache = one(run, "order-platform:cache:Cache").urn
    return next(k for k in run.of_type("aws:kms/key:Key") if k.parent == cache)


def has_cache(run) -> bool:
    return bool(config_value(run, "cacheEnabled"))


def test_the_shipped_switch_is_off_in_dev_and_on_in_staging_and_prod(stack_runs):
    assert {s: has_cache(r) for s, r in stack_runs.items()} == {
        "dev": False, "staging": True, "prod": True}


def test_off_nothing_of_the_cache_exists_and_the_pods_are_told_nothing(stack_runs):
    for run in (stack_runs["dev"], run_stack("staging", {"cacheEnabled": False})):
        assert [r.type for r in run.resources if r.type in CACHE_TYPES] == []
        assert not [r for r in run.resources if r.type == "order-platform:cache:Cache"]
        data = config_map(run)
        assert data["CACHE_URL"] == "" and data["CACHE_AUTH_SECRET_ARN"] == ""
        assert run.outputs[outputs.CACHE_URL] == run.outputs[outputs.CACHE_AUTH_SECRET_ARN] == ""
        policies = {r.inputs["metadata"]["name"] for r in k8s_objects(run)
                    if r.inputs["kind"] == "NetworkPolicy"}
        assert "allow-cache" not in policies


def test_on_in_dev_it_is_created_and_wired():
    run = run_stack("dev", {"cacheEnabled": True})
    group = one(run, GROUP)
    assert config_map(run)["CACHE_URL"] == (
        f"rediss://{group.outputs['primaryEndpointAddress']}:{CACHE_PORT}")


@pytest.fixture(params=["staging", "prod"])
def cached(request, stack_runs):
    return stack_runs[request.param]


def test_the_config_map_holds_the_endpoint_and_the_secret_arn_the_resources_report(cached):
    group, secret = one(cached, GROUP), one(cached, SECRET)
    data = config_map(cached)
    url = f"rediss://{group.outputs['primaryEndpointAddress']}:{group.outputs['port']}"
    assert data["CACHE_URL"] == url == cached.outputs[outputs.CACHE_URL]
    assert data["CACHE_AUTH_SECRET_ARN"] == secret.outputs["arn"]
    assert cached.outputs[outputs.CACHE_AUTH_SECRET_ARN] == secret.outputs["arn"]


def test_the_token_is_in_the_secret_and_the_group_and_nowhere_a_pod_can_read(cached):
    token = one(cached, TOKEN).outputs["result"]
    assert len(token) == 64 and token.isalnum()
    version = one(cached, SECRET_VERSION)
    assert json.loads(version.inputs["secretString"]) == {"password": token}
    assert version.inputs["secretId"] == one(cached, SECRET).id
    assert one(cached, GROUP).inputs["authToken"] == token
    for resource in cached.resources:
        if resource.type.startswith("kubernetes:"):
            assert token not in json.dumps(resource.inputs), resource.name
    assert token not in json.dumps(cached.outputs)


def test_encrypted_in_transit_and_at_rest_with_the_caches_own_key(cached):
    group, key = one(cached, GROUP).inputs, cache_key(cached)
    assert group["engine"] == "valkey"
    assert group["transitEncryptionEnabled"] is True
    assert group["transitEncryptionMode"] == "required"
    assert group["atRestEncryptionEnabled"] is True
    assert group["kmsKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    assert one(cached, SECRET).inputs["kmsKeyId"] == key.outputs["arn"]


def test_the_security_group_admits_only_the_cluster_on_the_cache_port(cached):
    group = one(cached, GROUP)
    (sg_id,) = group.inputs["securityGroupIds"]
    cluster_sg = one(cached, "aws:eks/cluster:Cluster").outputs["vpcConfig"][
        "clusterSecurityGroupId"]
    rules = [r.inputs for r in cached.of_type(INGRESS_RULE) if r.inputs["securityGroupId"] == sg_id]
    assert rules == [{**rules[0], "ipProtocol": "tcp", "fromPort": CACHE_PORT,
                      "toPort": CACHE_PORT, "referencedSecurityGroupId": cluster_sg}]
    assert not {"cidrIpv4", "cidrIpv6", "prefixListId"} & set(rules[0])
    assert [r for r in cached.of_type(EGRESS_RULE) if r.inputs["securityGroupId"] == sg_id] == []
    sg = next(g for g in cached.of_type("aws:ec2/securityGroup:SecurityGroup") if g.id == sg_id)
    assert not sg.inputs.get("ingress") and not sg.inputs.get("egress")


def test_its_nodes_are_in_the_private_subnets(cached):
    group = one(cached, GROUP).inputs
    subnet_group = next(s for s in cached.of_type("aws:elasticache/subnetGroup:SubnetGroup")
                        if s.outputs["name"] == group["subnetGroupName"])
    private = {s.id for s in cached.of_type("aws:ec2/subnet:Subnet")
               if s.inputs["tags"]["tier"] == "private"}
    assert set(subnet_group.inputs["subnetIds"]) == private


def test_prod_has_a_replica_in_another_az_with_automatic_failover(stack_runs):
    prod = one(stack_runs["prod"], GROUP).inputs
    assert prod["numCacheClusters"] == 2
    assert len(set(prod["preferredCacheClusterAzs"])) == 2
    assert prod["automaticFailoverEnabled"] is True and prod["multiAzEnabled"] is True
    staging = one(stack_runs["staging"], GROUP).inputs
    assert staging["numCacheClusters"] == 1
    assert staging["automaticFailoverEnabled"] is False


def test_only_the_cache_clients_may_reach_it_and_only_on_its_port(cached):
    policy = k8s_named(cached, "NetworkPolicy", "allow-cache").inputs["spec"]
    assert policy["podSelector"] == {"matchExpressions": [
        {"key": "app.kubernetes.io/name", "operator": "In", "values": list(CLIENT_ROLES)}]}
    # The catalogue decides; the worker is there because its product-cache consumer evicts.
    assert set(CLIENT_ROLES) == {p.role for p in processes.CACHE_CLIENTS} == {"read-api", "worker"}
    assert policy["policyTypes"] == ["Egress"]
    (rule,) = policy["egress"]
    assert rule["ports"] == [{"port": CACHE_PORT, "protocol": "TCP"}]
    private = {s.inputs["cidrBlock"] for s in cached.of_type("aws:ec2/subnet:Subnet")
               if s.inputs["tags"]["tier"] == "private"}
    assert {peer["ipBlock"]["cidr"] for peer in rule["to"]} == private
    others = [r.inputs["spec"] for r in k8s_objects(cached) if r.inputs["kind"] == "NetworkPolicy"
              and r.inputs["metadata"]["name"] != "allow-cache"]
    assert not [p for p in others for e in p.get("egress", [])
                for port in e.get("ports", []) if port["port"] == CACHE_PORT]


def test_the_migration_waits_for_the_cache(cached):
    job = one(cached, "kubernetes:batch/v1:Job")
    # Pods that start before the cache exists would fall back to the reader for a while.
    assert job.depends_on(one(cached, GROUP))
    assert job.depends_on(one(cached, SECRET_VERSION))


@pytest.mark.parametrize(("override", "key"), [
    ({"cacheNodeType": "cache.t2.micro"}, "cacheNodeType"),
    ({"cacheReplicaCount": 3}, "cacheReplicaCount"),
    ({"cacheReplicaCount": -1}, "cacheReplicaCount"),
])
def test_cache_settings_aws_would_refuse_are_refused(override, key):
    with pytest.raises(StackConfigError, match=key):
        run_stack("prod", override)


def test_the_cache_is_named_from_the_stack(cached):
    assert one(cached, GROUP).inputs["replicationGroupId"] == f"{prefix(cached)}-cache"
    assert len(f"{prefix(cached)}-cache") <= 40
