"""The rules that keep the checkov fixes in place (docs/supply-chain.md), each tested both ways."""

import pytest

from guardrails import aurora, containers, images, network
from tests.policies.engine_view import DELETE, changed, messages, resource_args, stack_args

DIGEST = "sha256:" + "ab" * 32
IMAGE = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/order-platform-prod:0.1.0@{DIGEST}"
CONTAINER = {"name": "write-api", "image": IMAGE, "imagePullPolicy": "IfNotPresent",
             "securityContext": {"runAsUser": 10001, "runAsGroup": 10001}}
DEPLOYMENT = {"kind": "Deployment", "metadata": {"name": "write-api", "namespace": "orders"},
              "spec": {"template": {"spec": {"securityContext": {"runAsUser": 10001},
                                             "containers": [CONTAINER]}}}}
INSTANCE = {"clusterIdentifier": "order-platform-prod-db", "instanceClass": "db.r6g.large",
            "monitoringInterval": 60,
            "monitoringRoleArn": "arn:aws:iam::123456789012:role/order-platform-prod-monitoring"}
TAG_ONLY = IMAGE.split("@", maxsplit=1)[0]
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/0b1c2d3e-0000-4000-8000-000000000001"


def deployment_check(policy, **container_paths):
    props = changed(DEPLOYMENT, **{f"spec__template__spec__containers__0__{k}": v
                                   for k, v in container_paths.items()})
    return messages(policy, resource_args(policy, "kubernetes:apps/v1:Deployment", props,
                                          name="write-api"))


@pytest.mark.parametrize("policy", [images.k8s_image_digest, containers.k8s_run_as_high_uid,
                                    images.k8s_explicit_pull_policy])
def test_what_the_program_deploys_passes(policy):
    assert deployment_check(policy) == []


def test_an_image_by_tag_only_is_reported():
    found = deployment_check(images.k8s_image_digest, image=TAG_ONLY)
    assert len(found) == 1 and "by tag, not by digest" in found[0] and "@sha256" in found[0]


@pytest.mark.parametrize(("uid", "expected"), [(1000, "UID 1000, below 10000"),
                                               (DELETE, None)])
def test_a_low_uid_is_reported_and_the_pod_level_uid_counts(uid, expected):
    found = deployment_check(containers.k8s_run_as_high_uid, securityContext__runAsUser=uid)
    if expected is None:  # the pod's runAsUser (10001) applies
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0]
    props = changed(DEPLOYMENT, spec__template__spec__securityContext__runAsUser=DELETE,
                    spec__template__spec__containers__0__securityContext__runAsUser=DELETE)
    policy = containers.k8s_run_as_high_uid
    found = messages(policy, resource_args(policy, "kubernetes:apps/v1:Deployment", props))
    assert len(found) == 1 and "sets no runAsUser" in found[0]


@pytest.mark.parametrize(("image", "pull", "expected"), [
    (IMAGE, DELETE, "sets no imagePullPolicy"),
    (IMAGE, "Never", "never pulls"),
    (TAG_ONLY, "IfNotPresent", "pulls IfNotPresent by tag"),
])
def test_the_pull_policy_must_be_explicit_and_safe(image, pull, expected):
    found = deployment_check(images.k8s_explicit_pull_policy, image=image,
                             imagePullPolicy=pull)
    assert len(found) == 1 and expected in found[0]
    assert deployment_check(images.k8s_explicit_pull_policy, image=TAG_ONLY,
                            imagePullPolicy="Always") == []


def instance_check(props):
    policy = aurora.aurora_enhanced_monitoring
    return messages(policy, resource_args(policy, aurora.CLUSTER_INSTANCE, props, name="w"))


def test_enhanced_monitoring_needs_an_interval_and_a_role():
    assert instance_check(INSTANCE) == []
    found = instance_check(changed(INSTANCE, monitoringInterval=DELETE))
    assert len(found) == 1 and "no Enhanced Monitoring (monitoringInterval 0)" in found[0]
    found = instance_check(changed(INSTANCE, monitoringInterval=7))
    assert len(found) == 1 and "monitoringInterval 7" in found[0]
    found = instance_check(changed(INSTANCE, monitoringRoleArn=DELETE))
    assert len(found) == 1 and "without monitoring_role_arn" in found[0]


def test_log_groups_need_a_customer_key():
    policy = network.cloudwatch_log_group_kms
    group = {"name": "/vpc/order-platform-prod/flow-logs", "retentionInDays": 365,
             "kmsKeyId": KEY_ARN}
    assert messages(policy, resource_args(policy, network.LOG_GROUP, group)) == []
    found = messages(policy, resource_args(policy, network.LOG_GROUP,
                                           changed(group, kmsKeyId=DELETE)))
    assert len(found) == 1 and "kms_key_id" in found[0]


def default_sg_stack(*groups):
    vpc = (network.VPC, "vpc", {"id": "vpc-1", "cidrBlock": "10.0.0.0/16"})
    return messages(network.vpc_default_security_group_closed,
                    stack_args(network.vpc_default_security_group_closed, [vpc, *groups]))


def test_the_default_security_group_must_be_adopted_without_rules():
    closed = (network.DEFAULT_SECURITY_GROUP, "default-sg", {"vpcId": "vpc-1"})
    assert default_sg_stack(closed) == []
    found = default_sg_stack()
    assert len(found) == 1 and "VPC 'vpc' leaves its default security group" in found[0]
    other_vpc = (network.DEFAULT_SECURITY_GROUP, "other", {"vpcId": "vpc-2"})
    assert len(default_sg_stack(other_vpc)) == 1
    open_group = (network.DEFAULT_SECURITY_GROUP, "default-sg", {
        "vpcId": "vpc-1", "ingress": [{"protocol": "-1", "fromPort": 0, "toPort": 0,
                                       "self": True}]})
    found = default_sg_stack(open_group)
    assert len(found) == 1 and "keeps 1 rule(s)" in found[0]
