"""Backups outside the stack's region, and a cluster made from a backup by config."""

from __future__ import annotations

import json

import pytest

from infra.config import StackConfigError
from infra.simulation import run_stack
from tests.infra.helpers import config_value, document, one, prefix

PLAN = "aws:backup/plan:Plan"
VAULT = "aws:backup/vault:Vault"
SELECTION = "aws:backup/selection:Selection"
KEY = "aws:kms/key:Key"
CLUSTER = "aws:rds/cluster:Cluster"
INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
PROVIDER = "pulumi:providers:aws"


def _region_of(run, resource) -> str:
    """The region of the provider a resource is created with."""
    name = resource.provider.split("::")[-2]
    return next(p.inputs["region"] for p in run.of_type(PROVIDER) if p.name == name)


def test_prod_copies_a_daily_snapshot_to_a_vault_of_another_region(stack_runs):
    run = stack_runs["prod"]
    (rule,) = one(run, PLAN).inputs["rules"]
    vaults = {v.outputs["arn"]: v for v in run.of_type(VAULT)}
    here = vaults[_arn_of(run, rule["targetVaultName"])]
    (copy,) = rule["copyActions"]
    there = vaults[copy["destinationVaultArn"]]
    copy_region = config_value(run, "dbBackupCopyRegion")
    assert _region_of(run, here) == config_value(run, "aws:region") != copy_region
    assert _region_of(run, there) == copy_region
    # Each vault is encrypted with a key of its own, made in the vault's region.
    keys = {k.outputs["arn"]: k for k in run.of_type(KEY)}
    assert here.inputs["kmsKeyArn"] != there.inputs["kmsKeyArn"]
    for vault in (here, there):
        key = keys[vault.inputs["kmsKeyArn"]]
        assert _region_of(run, key) == _region_of(run, vault)
        assert key.inputs["enableKeyRotation"] is True
    assert rule["lifecycle"]["deleteAfter"] == config_value(run, "dbBackupRetentionDays")
    assert copy["lifecycle"]["deleteAfter"] == config_value(run, "dbBackupCopyRetentionDays")
    assert rule["schedule"] == "cron(0 5 * * ? *)"


def _arn_of(run, vault_name: str) -> str:
    return next(v.outputs["arn"] for v in run.of_type(VAULT) if v.inputs["name"] == vault_name)


def test_the_plan_selects_the_cluster_with_a_role_only_aws_backup_assumes(stack_runs):
    run = stack_runs["prod"]
    selection = one(run, SELECTION).inputs
    assert selection["resources"] == [one(run, CLUSTER).outputs["arn"]]
    assert selection["planId"] == one(run, PLAN).outputs.get("id", selection["planId"])
    role = next(r for r in run.of_type("aws:iam/role:Role")
                if r.outputs["arn"] == selection["iamRoleArn"])
    (trust,) = document(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "backup.amazonaws.com"}
    attached = {a.inputs["policyArn"] for a in run.of_type(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == role.outputs["name"]}
    assert attached == {
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"}


def test_without_a_copy_region_there_is_no_plan(stack_runs):
    for stack in ("dev", "staging"):
        run = stack_runs[stack]
        assert not config_value(run, "dbBackupCopyRegion")
        assert run.of_type(PLAN) == run.of_type(VAULT) == []


def test_a_copy_region_is_one_per_stack_setting():
    run = run_stack("staging", {"dbBackupCopyRegion": "eu-north-1",
                                "dbBackupCopyRetentionDays": 3})
    (rule,) = one(run, PLAN).inputs["rules"]
    assert rule["copyActions"][0]["lifecycle"]["deleteAfter"] == 3
    copy_vault = next(v for v in run.of_type(VAULT) if v.inputs["name"].endswith("-copy"))
    assert _region_of(run, copy_vault) == "eu-north-1"


@pytest.mark.parametrize(("restore", "expected"), [
    ({"name": "pitr1", "sourceCluster": "order-platform-staging-db",
      "time": "2026-12-01T09:30:00Z"},
     {"restoreToPointInTime": {"sourceClusterIdentifier": "order-platform-staging-db",
                               "restoreType": "full-copy",
                               "restoreToTime": "2026-12-01T09:30:00Z"}}),
    ({"name": "pitr2", "sourceCluster": "order-platform-staging-db", "time": "latest"},
     {"restoreToPointInTime": {"sourceClusterIdentifier": "order-platform-staging-db",
                               "restoreType": "full-copy", "useLatestRestorableTime": True}}),
    ({"name": "snap1", "snapshot": "order-platform-staging-db-final-1a2b3c4d"},
     {"snapshotIdentifier": "order-platform-staging-db-final-1a2b3c4d"}),
], ids=["point-in-time", "latest", "snapshot"])
def test_the_cluster_can_be_made_from_a_backup_as_a_new_cluster(restore, expected):
    run = run_stack("staging", {"dbRestore": restore})
    cluster = one(run, CLUSTER).inputs
    assert {k: cluster[k] for k in expected} == expected
    identifier = f"{prefix(run)}-db-{restore['name']}"
    assert cluster["clusterIdentifier"] == identifier
    # The instances, key alias and log group follow the new name: nothing collides with the
    # cluster being replaced while both exist.
    assert all(i.inputs["identifier"].startswith(f"{identifier}-") for i in run.of_type(INSTANCE))
    assert cluster["kmsKeyId"] and cluster["storageEncrypted"] is True


def test_a_stack_without_a_restore_makes_an_empty_cluster(run):
    cluster = one(run, CLUSTER).inputs
    assert cluster["clusterIdentifier"] == f"{prefix(run)}-db"
    assert "snapshotIdentifier" not in cluster and "restoreToPointInTime" not in cluster


@pytest.mark.parametrize(("restore", "message"), [
    ({"name": "x", "snapshot": "s", "sourceCluster": "c", "time": "latest"}, "exactly one"),
    ({"name": "x"}, "exactly one"),
    ({"name": "x", "sourceCluster": "c", "time": "yesterday"}, "dbRestore.time"),
    ({"name": "x", "sourceCluster": "c"}, "dbRestore.time"),
    ({"name": "X_1", "snapshot": "s"}, "dbRestore.name"),
    ({"name": "x", "snapshot": "s", "time": "latest"}, "goes with sourceCluster"),
    ({"name": "x", "snapshot": "s", "snapshotId": "s"}, "no setting snapshotId"),
    (["order-platform-staging-db"], "must be an object"),
])
def test_an_impossible_restore_is_refused_naming_the_setting(restore, message):
    with pytest.raises(StackConfigError, match=message):
        run_stack("staging", {"dbRestore": restore})


@pytest.mark.parametrize("region", ["eu-west-1", "Frankfurt"])
def test_the_copy_region_must_be_another_region(region):
    with pytest.raises(StackConfigError, match="dbBackupCopyRegion"):
        run_stack("prod", {"dbBackupCopyRegion": region})


def test_the_restore_setting_is_documented_in_the_project(repo_root):
    import yaml
    schema = yaml.safe_load((repo_root / "Pulumi.yaml").read_text())["config"]
    assert schema["dbRestore"]["type"] == "object"
    assert json.dumps(schema["dbBackupCopyRegion"]["default"]) == '""'
