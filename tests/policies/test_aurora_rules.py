"""Aurora rules, each with violating and compliant resources as the engine presents them."""

import pytest
from pulumi_policy import ResourceValidationPolicy

from guardrails import aurora
from tests.policies.engine_view import DELETE, changed, messages, resource_args, secret, stack_args

CLUSTER = aurora.CLUSTER
INSTANCE = aurora.CLUSTER_INSTANCE
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/0b1c2d3e-0000-4000-8000-000000000001"
GOOD_CLUSTER = {
    "engine": "aurora-postgresql",
    "engineVersion": "16.8",
    "clusterIdentifier": "order-platform-prod-db",
    "storageEncrypted": True,
    "kmsKeyId": KEY_ARN,
    "backupRetentionPeriod": 14,
    "deletionProtection": True,
    "skipFinalSnapshot": False,
    "finalSnapshotIdentifier": "order-platform-prod-db-final",
    "enabledCloudwatchLogsExports": ["postgresql"],
    "manageMasterUserPassword": True,
    "masterUsername": "orders_admin",
}


def check(policy, props, resource_type=CLUSTER, **config):
    return messages(policy, resource_args(policy, resource_type, props, name="db", **config))


@pytest.mark.parametrize(
    "policy", [p for p in aurora.POLICIES if isinstance(p, ResourceValidationPolicy)]
)
def test_a_well_built_cluster_passes_every_resource_rule(policy):
    assert check(policy, GOOD_CLUSTER) == []


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        (changed(GOOD_CLUSTER, storageEncrypted=False), "storageEncrypted unset or false"),
        (changed(GOOD_CLUSTER, storageEncrypted=DELETE), "storageEncrypted unset or false"),
        (changed(GOOD_CLUSTER, kmsKeyId=DELETE), "AWS-managed key"),
        (changed(GOOD_CLUSTER, kmsKeyId="alias/aws/rds"), "AWS-managed key"),
    ],
)
def test_storage_must_be_encrypted_with_a_customer_key(props, expected):
    found = check(aurora.aurora_storage_encrypted, props)
    assert len(found) == 1 and expected in found[0]
    assert "kms_key_id" in found[0]


@pytest.mark.parametrize("resource_type", [CLUSTER, INSTANCE, aurora.DB_INSTANCE])
def test_nothing_may_be_publicly_accessible(resource_type):
    policy = aurora.aurora_not_publicly_accessible
    assert check(policy, {"publiclyAccessible": False}, resource_type) == []
    assert check(policy, {"instanceClass": "db.r6g.large"}, resource_type) == []
    found = check(policy, {"publiclyAccessible": True}, resource_type)
    assert len(found) == 1 and "publiclyAccessible=true" in found[0]


def test_backup_retention_uses_the_configured_minimum():
    policy = aurora.aurora_backup_retention
    assert check(policy, changed(GOOD_CLUSTER, backupRetentionPeriod=7)) == []
    found = check(policy, changed(GOOD_CLUSTER, backupRetentionPeriod=3))
    assert len(found) == 1 and "3 day(s); at least 7" in found[0]
    # Unset means AWS's default of one day.
    assert "1 day(s)" in check(policy, changed(GOOD_CLUSTER, backupRetentionPeriod=DELETE))[0]
    assert check(policy, changed(GOOD_CLUSTER, backupRetentionPeriod=3), minimumDays=1) == []
    assert check(policy, GOOD_CLUSTER, minimumDays=30) != []


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        (changed(GOOD_CLUSTER, deletionProtection=False), "deletionProtection off"),
        (changed(GOOD_CLUSTER, deletionProtection=DELETE), "deletionProtection off"),
        (changed(GOOD_CLUSTER, skipFinalSnapshot=True), "without a final snapshot"),
        (changed(GOOD_CLUSTER, finalSnapshotIdentifier=DELETE), "without a final snapshot"),
    ],
)
def test_deletion_protection_and_final_snapshot(props, expected):
    found = check(aurora.aurora_deletion_protection, props)
    assert len(found) == 1 and expected in found[0]


def test_final_snapshot_requirement_can_be_switched_off():
    props = changed(GOOD_CLUSTER, skipFinalSnapshot=True)
    assert check(aurora.aurora_deletion_protection, props, requireFinalSnapshot=False) == []


def test_log_exports_must_include_the_required_types():
    policy = aurora.aurora_log_exports
    found = check(policy, changed(GOOD_CLUSTER, enabledCloudwatchLogsExports=DELETE))
    assert len(found) == 1 and "does not export postgresql" in found[0]
    found = check(policy, GOOD_CLUSTER, requiredLogTypes=["postgresql", "iam-db-auth-error"])
    assert len(found) == 1 and "iam-db-auth-error" in found[0]


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        (changed(GOOD_CLUSTER, manageMasterUserPassword=DELETE), "does not let RDS manage"),
        (changed(GOOD_CLUSTER, manageMasterUserPassword=False), "does not let RDS manage"),
        (changed(GOOD_CLUSTER, masterPassword=secret("hunter2hunter2")), "sets masterPassword"),
        (changed(GOOD_CLUSTER, masterPasswordWo="hunter2hunter2"), "sets masterPasswordWo"),
    ],
)
def test_master_password_is_managed_by_rds_never_passed_in(props, expected):
    found = check(aurora.aurora_managed_master_password, props)
    assert len(found) == 1 and expected in found[0]


def _instance(name, az, cluster="order-platform-prod-db"):
    return (
        INSTANCE,
        name,
        {
            "clusterIdentifier": cluster,
            "availabilityZone": az,
            "instanceClass": "db.r6g.large",
            "engine": "aurora-postgresql",
        },
    )


def _cluster_stack(*instances, **config):
    cluster = (CLUSTER, "db", {**GOOD_CLUSTER, "id": "order-platform-prod-db"})
    return stack_args(aurora.aurora_multi_az_readers, [cluster, *instances], **config)


def test_two_readers_in_other_zones_pass():
    args = _cluster_stack(
        _instance("w", "eu-west-1a"), _instance("r1", "eu-west-1b"), _instance("r2", "eu-west-1c")
    )
    assert messages(aurora.aurora_multi_az_readers, args) == []


def test_too_few_readers_are_reported_on_the_cluster():
    args = _cluster_stack(
        _instance("w", "eu-west-1a"),
        _instance("r1", "eu-west-1b"),
        _instance("other", "eu-west-1c", cluster="someone-elses-db"),
    )
    found = messages(aurora.aurora_multi_az_readers, args)
    assert len(found) == 1 and "has 1 reader(s); at least 2" in found[0]
    assert (
        messages(
            aurora.aurora_multi_az_readers,
            _cluster_stack(
                _instance("w", "eu-west-1a"), _instance("r1", "eu-west-1b"), minimumReaders=1
            ),
        )
        == []
    )


def test_readers_piled_into_one_zone_are_reported():
    args = _cluster_stack(
        _instance("w", "eu-west-1a"), _instance("r1", "eu-west-1a"), _instance("r2", "eu-west-1a")
    )
    found = messages(aurora.aurora_multi_az_readers, args)
    assert len(found) == 1 and "1 pinned availability zone(s)" in found[0]
