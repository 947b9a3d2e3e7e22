"""Drift and upgrades: what AWS changes after creation is not fought, and versions move together.

A later `up` must not try to undo what AWS did on its own (a minor database upgrade, the
node group's size), and raising ``kubernetesVersion`` must move nodes and add-ons with the
control plane. Inputs AWS accepts only from a list are refused before anything is created.
"""

from __future__ import annotations

import runpy

import pytest

from infra import kubernetes_versions as versions
from infra import pulumi_internals, simulation
from infra.config import StackConfigError
from infra.mock_cloud import CloudMocks
from infra.simulation import run_stack
from tests.infra.helpers import config_value, one

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ADDON = "aws:eks/addon:Addon"
DB_CLUSTER = "aws:rds/cluster:Cluster"
DB_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
PARAMS = "aws:rds/clusterParameterGroup:ClusterParameterGroup"


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
    params = one(upgrade, PARAMS)
    assert params.inputs["family"] == "aurora-postgresql17"
    # The order AWS accepts: the new family's group first (autonamed, so the replacement is
    # created before the old one goes), then the cluster moved to it in the same update as the
    # engine version, then the old group deleted once nothing uses it.
    assert "name" not in params.inputs and params.delete_before_replace is not True
    assert db.depends_on(params)
    assert db.inputs["dbClusterParameterGroupName"] == params.outputs["name"]


def registered_until_refused(stack: str, overrides: dict, running: str) -> list:
    """Every registration of a run the program refuses, and the refusal."""
    config = simulation.stack_config(stack, overrides)
    records: list = []
    mocks = CloudMocks("eu-west-1", databases={f"order-platform-{stack}-db": running})
    with pytest.raises(StackConfigError, match="dbMajorVersionUpgrade"):
        pulumi_internals.run_program(
            lambda: runpy.run_path(str(simulation.PROGRAM_DIR), run_name="__main__"),
            mocks=mocks, on_register=records.append, config=config,
            project=simulation.project_name(), stack=stack)
    return records


def test_a_new_major_without_the_flag_is_refused_before_anything_is_created():
    registered = registered_until_refused("staging", {"dbEngineVersion": "17"}, "16.8")
    assert {r.type for r in registered} <= {"pulumi:providers:aws"}


def test_no_downgrade_and_a_new_cluster_takes_any_major():
    with pytest.raises(StackConfigError, match="below the major the cluster runs"):
        run_stack("staging", {"dbEngineVersion": "15"})
    fresh = run_stack("staging", {"dbEngineVersion": "17"}, databases={})
    assert one(fresh, PARAMS).inputs["family"] == "aurora-postgresql17"
    # A later `up` reads the running minor and ignores it: only the major counts.
    same = run_stack("staging", databases={"order-platform-staging-db": "16.11"})
    assert one(same, DB_CLUSTER).inputs["engineVersion"] == "16"


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


def test_every_add_on_is_the_version_pinned_for_the_clusters_kubernetes(run):
    pinned = versions.release(config_value(run, "kubernetesVersion"))
    addons = run.of_type(ADDON)
    collector = {"cert-manager", "adot"} if config_value(run, "collectorEnabled") else set()
    assert {a.inputs["addonName"] for a in addons} == {
        "vpc-cni", "kube-proxy", "coredns", "metrics-server", *collector}
    for addon in addons:
        assert addon.inputs["addonVersion"] == pinned.addons[addon.inputs["addonName"]]
    assert one(run, NODE_GROUP).inputs["releaseVersion"] == pinned.node_ami_release


def test_raising_kubernetes_version_moves_nodes_and_add_ons_with_the_control_plane(stack_runs):
    before = run_stack("dev", {"kubernetesVersion": "1.35"},
                       clusters={"order-platform-dev": "1.35"})
    after = stack_runs["dev"]
    assert config_value(after, "kubernetesVersion") == "1.36"
    assert one(after, CLUSTER).inputs["version"] == "1.36"
    assert one(after, NODE_GROUP).inputs["version"] == "1.36"
    assert one(before, NODE_GROUP).inputs["releaseVersion"] != one(
        after, NODE_GROUP).inputs["releaseVersion"]
    moved = {a.inputs["addonName"]: a.inputs["addonVersion"] for a in after.of_type(ADDON)}
    for addon in before.of_type(ADDON):
        name = addon.inputs["addonName"]
        assert moved[name] == versions.RELEASES["1.36"].addons[name]
        # Those the table moves from 1.35 to 1.36 move, and no other.
        assert (moved[name] != addon.inputs["addonVersion"]) is (
            versions.RELEASES["1.35"].addons[name] != versions.RELEASES["1.36"].addons[name])
    assert moved["kube-proxy"] != one_addon(before, "kube-proxy")


def one_addon(run, name: str) -> str:
    return next(a.inputs["addonVersion"] for a in run.of_type(ADDON)
                if a.inputs["addonName"] == name)


@pytest.mark.parametrize(("override", "key"), [
    ({"logRetentionDays": 10}, "logRetentionDays"),
    ({"dbEngineVersion": "16.8"}, "dbEngineVersion"),
    ({"dbInstanceClass": "db.t3.micro"}, "dbInstanceClass"),
    ({"kubernetesVersion": "1.29"}, "kubernetesVersion"),
    ({"clusterSupportType": "FOREVER"}, "clusterSupportType"),
    ({"nodeAmiAlias": "al2@latest"}, "nodeAmiAlias"),
    ({"nodeAmiAlias": "al2023@latest"}, "nodeAmiAlias"),
    ({"nodePoolInstanceTypes": ["m6g.large"]}, "nodePoolInstanceTypes"),
    ({"systemNodeInstanceTypes": ["t4g.medium"]}, "systemNodeInstanceTypes"),
    ({"nodePoolInstanceTypes": ["m6i.large", "m6i.xlarge"]}, "nodePoolInstanceTypes"),
    ({"systemNodeMinSize": 0}, "systemNodeMinSize"),
])
def test_values_aws_would_refuse_are_refused_before_anything_is_created(override, key):
    with pytest.raises(StackConfigError, match=key):
        run_stack("dev", override)
