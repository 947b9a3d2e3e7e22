"""Drift and upgrades: what AWS changes after creation is not fought, and versions move together.

A later `up` must not try to undo what AWS did on its own (a minor database upgrade, the
node group's size), and raising ``kubernetesVersion`` must move nodes and add-ons with the
control plane. Inputs AWS accepts only from a list are refused before anything is created.
"""

from __future__ import annotations

import pytest

from infra.config import StackConfigError
from infra.simulation import run_stack
from tests.infra.helpers import config_value, one

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ADDON = "aws:eks/addon:Addon"
DB_CLUSTER = "aws:rds/cluster:Cluster"
DB_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"


def test_aurora_pins_only_the_major_and_ignores_the_minor_aws_upgrades_to(run):
    db = one(run, DB_CLUSTER)
    assert db.inputs["engineVersion"] == config_value(run, "dbEngineVersion")
    assert "." not in db.inputs["engineVersion"]
    assert db.ignore_changes == ("engineVersion",)
    assert not db.inputs.get("allowMajorVersionUpgrade")
    params = one(run, "aws:rds/clusterParameterGroup:ClusterParameterGroup")
    assert params.inputs["family"] == f"aurora-postgresql{db.inputs['engineVersion']}"
    for instance in run.of_type(DB_INSTANCE):
        assert "engineVersion" not in instance.inputs, "instances run the cluster's version"
        assert instance.inputs["autoMinorVersionUpgrade"] is True


def test_a_major_upgrade_is_an_explicit_one_off(stack_runs):
    upgrade = run_stack("staging", {"dbEngineVersion": "17", "dbMajorVersionUpgrade": True})
    db = one(upgrade, DB_CLUSTER)
    assert db.inputs["engineVersion"] == "17" and db.ignore_changes == ()
    assert db.inputs["allowMajorVersionUpgrade"] is True
    assert one(upgrade, "aws:rds/clusterParameterGroup:ClusterParameterGroup").inputs[
        "family"] == "aurora-postgresql17"


def test_the_cluster_creator_gets_nothing_and_the_flag_never_replaces_a_cluster(run):
    cluster = one(run, CLUSTER)
    assert cluster.inputs["accessConfig"] == {
        "authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    assert "accessConfig.bootstrapClusterCreatorAdminPermissions" in cluster.ignore_changes


def test_the_system_node_group_keeps_a_size_changed_outside_pulumi(run):
    assert one(run, NODE_GROUP).ignore_changes == ("scalingConfig.desiredSize",)


def test_the_support_policy_is_explicit(run):
    assert one(run, CLUSTER).inputs["upgradePolicy"] == {
        "supportType": config_value(run, "clusterSupportType")}


def test_the_node_group_runs_the_clusters_version(run):
    cluster, group = one(run, CLUSTER), one(run, NODE_GROUP)
    assert group.inputs["version"] == cluster.outputs["version"]
    assert group.depends_on(cluster)


def test_every_add_on_is_pinned_to_a_version_for_the_clusters_kubernetes(run):
    minor = config_value(run, "kubernetesVersion").split(".")[1]
    addons = run.of_type(ADDON)
    collector = {"cert-manager", "adot"} if config_value(run, "collectorEnabled") else set()
    assert {a.inputs["addonName"] for a in addons} == {
        "vpc-cni", "kube-proxy", "coredns", "metrics-server", *collector}
    for addon in addons:
        # The mock answers EKS's lookup with v1.<minor>.0-eksbuild.N for the version asked.
        assert addon.inputs["addonVersion"].startswith(f"v1.{minor}."), addon.name


def test_raising_kubernetes_version_moves_nodes_and_add_ons_with_the_control_plane(stack_runs):
    before = stack_runs["dev"]
    after = run_stack("dev", {"kubernetesVersion": "1.35"})
    assert one(after, CLUSTER).inputs["version"] == "1.35"
    assert one(after, NODE_GROUP).inputs["version"] == "1.35"
    versions = {a.inputs["addonName"]: a.inputs["addonVersion"] for a in before.of_type(ADDON)}
    for addon in after.of_type(ADDON):
        assert addon.inputs["addonVersion"] != versions[addon.inputs["addonName"]]


@pytest.mark.parametrize(("override", "key"), [
    ({"logRetentionDays": 10}, "logRetentionDays"),
    ({"dbEngineVersion": "16.8"}, "dbEngineVersion"),
    ({"dbInstanceClass": "db.t3.micro"}, "dbInstanceClass"),
    ({"kubernetesVersion": "1.29"}, "kubernetesVersion"),
    ({"clusterSupportType": "FOREVER"}, "clusterSupportType"),
    ({"nodeAmiAlias": "al2@latest"}, "nodeAmiAlias"),
    ({"nodePoolInstanceTypes": ["m6g.large"]}, "nodePoolInstanceTypes"),
    ({"systemNodeInstanceTypes": ["t4g.medium"]}, "systemNodeInstanceTypes"),
    ({"nodePoolInstanceTypes": ["m6i.large", "m6i.xlarge"]}, "nodePoolInstanceTypes"),
    ({"systemNodeMinSize": 0}, "systemNodeMinSize"),
])
def test_values_aws_would_refuse_are_refused_before_anything_is_created(override, key):
    with pytest.raises(StackConfigError, match=key):
        run_stack("dev", override)
