"""Aurora rules: encryption, exposure, backups, protection, readers, logs, master password."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from guardrails.props import (
    Report,
    aws_managed_key,
    for_types,
    get,
    label,
    missing,
    number,
    of_type,
    truthy,
)
from guardrails.rules import resource_rule, stack_rule
from guardrails.settings import RuleSettings, setting

CLUSTER = "aws:rds/cluster:Cluster"
CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
DB_INSTANCE = "aws:rds/instance:Instance"
MONITORING_INTERVALS = (1, 5, 10, 15, 30, 60)


@resource_rule(
    "aurora-storage-encrypted",
    "Aurora storage must be encrypted with a customer-managed KMS key.",
)
@for_types(CLUSTER)
def aurora_storage_encrypted(args: ResourceValidationArgs, report: Report) -> None:
    """Storage is encrypted, with a customer-managed KMS key rather than the AWS-managed one."""
    if not truthy(get(args.props, "storageEncrypted")):
        report(
            f"Cluster {label(args)} has storageEncrypted unset or false. Set "
            "storage_encrypted=True and kms_key_id to the ARN of a customer-managed aws.kms.Key "
            "(encryption cannot be added later without a snapshot restore)."
        )
        return
    if aws_managed_key(get(args.props, "kmsKeyId")):
        report(
            f"Cluster {label(args)} is encrypted with the AWS-managed key. Set kms_key_id to "
            "the ARN of a customer-managed aws.kms.Key so that its policy, rotation and audit "
            "are yours."
        )


@resource_rule(
    "aurora-not-publicly-accessible",
    "Aurora clusters and instances must not be publicly accessible.",
)
@for_types(CLUSTER, CLUSTER_INSTANCE, DB_INSTANCE)
def aurora_not_publicly_accessible(args: ResourceValidationArgs, report: Report) -> None:
    """Neither the cluster nor any of its instances is publicly accessible."""
    if truthy(get(args.props, "publiclyAccessible")):
        report(
            f"{args.resource_type.rsplit(':', 1)[-1]} {label(args)} has publiclyAccessible=true, "
            "which gives it a public IP. Remove publicly_accessible (it defaults to false) and "
            "reach the database from inside the VPC."
        )


@dataclass(frozen=True)
class BackupRetention(RuleSettings):
    """The settings of aurora-backup-retention."""

    minimum_days: int = setting(
        7, "Fewest days of automated backups allowed.", minimum=1, maximum=35)


@resource_rule(
    "aurora-backup-retention",
    "Aurora automated backups must be kept for at least the configured number of days.",
    BackupRetention,
)
@for_types(CLUSTER)
def aurora_backup_retention(args: ResourceValidationArgs, report: Report) -> None:
    """Automated backups are kept at least ``minimumDays`` days (AWS's default is 1)."""
    minimum = BackupRetention.read(args).minimum_days
    days = int(number(get(args.props, "backupRetentionPeriod"), 1))
    if days < minimum:
        report(
            f"Cluster {label(args)} keeps backups for {days} day(s); at least {minimum} are "
            f"required. Set backup_retention_period to {minimum} or more (at most 35)."
        )


@dataclass(frozen=True)
class DeletionProtection(RuleSettings):
    """The settings of aurora-deletion-protection."""

    require_final_snapshot: bool = setting(
        True, "Also require skipFinalSnapshot=false and a final snapshot name.")


@resource_rule(
    "aurora-deletion-protection",
    "Aurora clusters need deletion protection and a final snapshot (prod).",
    DeletionProtection,
)
@for_types(CLUSTER)
def aurora_deletion_protection(args: ResourceValidationArgs, report: Report) -> None:
    """Deletion protection is on and destroying the cluster leaves a final snapshot."""
    if not truthy(get(args.props, "deletionProtection")):
        report(
            f"Cluster {label(args)} has deletionProtection off, so one `pulumi destroy` or a "
            "replace loses the data. Set deletion_protection=True for this environment."
        )
    if not DeletionProtection.read(args).require_final_snapshot:
        return
    if truthy(get(args.props, "skipFinalSnapshot")) or not get(
        args.props, "finalSnapshotIdentifier"
    ):
        report(
            f"Cluster {label(args)} would be deleted without a final snapshot. Set "
            "skip_final_snapshot=False and a final_snapshot_identifier."
        )


@dataclass(frozen=True)
class LogExports(RuleSettings):
    """The settings of aurora-log-exports."""

    required_log_types: tuple[str, ...] = setting(
        ("postgresql",), "Log types that must be in enabledCloudwatchLogsExports.")


@resource_rule(
    "aurora-log-exports",
    "Aurora clusters must export their logs to CloudWatch Logs.",
    LogExports,
)
@for_types(CLUSTER)
def aurora_log_exports(args: ResourceValidationArgs, report: Report) -> None:
    """The configured log types are exported to CloudWatch Logs."""
    required = LogExports.read(args).required_log_types
    absent = missing(required, get(args.props, "enabledCloudwatchLogsExports"))
    if absent:
        report(
            f"Cluster {label(args)} does not export {', '.join(absent)} logs. Add them to "
            "enabled_cloudwatch_logs_exports so they reach CloudWatch Logs."
        )


@resource_rule(
    "aurora-managed-master-password",
    "The Aurora master password must be managed by RDS in Secrets Manager.",
)
@for_types(CLUSTER)
def aurora_managed_master_password(args: ResourceValidationArgs, report: Report) -> None:
    """RDS manages the master password in Secrets Manager; no password is passed in."""
    for field in ("masterPassword", "masterPasswordWo"):
        if get(args.props, field):
            report(
                f"Cluster {label(args)} sets {field}: the password is in the program's inputs "
                "(and, for masterPassword, in the state). Remove it and set "
                "manage_master_user_password=True; read the secret's ARN from master_user_secrets."
            )
    if not truthy(get(args.props, "manageMasterUserPassword")):
        report(
            f"Cluster {label(args)} does not let RDS manage the master password. Set "
            "manage_master_user_password=True (optionally master_user_secret_kms_key_id) and "
            "give the pods the secret's ARN, not the password."
        )


def _instances_by_cluster(args: StackValidationArgs) -> dict[str, list]:
    """Cluster instances keyed by the cluster identifier they join."""
    grouped: dict[str, list] = defaultdict(list)
    for r in args.resources:
        if r.resource_type == CLUSTER_INSTANCE:
            grouped[str(get(r.props, "clusterIdentifier", ""))].append(r)
    return grouped


@dataclass(frozen=True)
class MultiAzReaders(RuleSettings):
    """The settings of aurora-multi-az-readers."""

    minimum_readers: int = setting(2, "Fewest reader instances per Aurora cluster.", minimum=0)
    minimum_availability_zones: int = setting(
        2, "Fewest distinct availability zones across a cluster's instances.", minimum=1)


@stack_rule(
    "aurora-multi-az-readers",
    "Aurora clusters need readers spread across availability zones (prod).",
    MultiAzReaders,
)
def aurora_multi_az_readers(args: StackValidationArgs, report: Report) -> None:
    """Each Aurora cluster has ``minimumReaders`` readers and its instances span enough AZs."""
    config = MultiAzReaders.read(args)
    min_readers, min_azs = config.minimum_readers, config.minimum_availability_zones
    instances = _instances_by_cluster(args)
    for cluster in of_type(args, CLUSTER):
        if not str(get(cluster.props, "engine", "")).startswith(
            "aurora"
        ):
            continue
        keys = {str(get(cluster.props, k, "")) for k in ("clusterIdentifier", "id")} - {""}
        members = [i for k in keys for i in instances.get(k, [])]
        readers = max(len(members) - 1, 0)
        if readers < min_readers:
            report(
                f"Cluster '{cluster.name}' has {readers} reader(s); at least {min_readers} are "
                "required so a failover has somewhere to go. Add aws.rds.ClusterInstance readers "
                "with cluster_identifier set to this cluster.",
                cluster.urn,
            )
        zones = {str(get(i.props, "availabilityZone", "")) for i in members} - {""}
        if members and len(zones) < min_azs:
            report(
                f"Cluster '{cluster.name}' has its instances in {len(zones)} pinned availability "
                f"zone(s); at least {min_azs} are required. Set availability_zone on each "
                "aws.rds.ClusterInstance, one zone per instance.",
                cluster.urn,
            )


@resource_rule(
    "aurora-enhanced-monitoring",
    "Aurora instances must have Enhanced Monitoring (OS metrics) with a role.",
)
@for_types(CLUSTER_INSTANCE, DB_INSTANCE)
def aurora_enhanced_monitoring(args: ResourceValidationArgs, report: Report) -> None:
    """Enhanced Monitoring reports the instance's OS metrics, through a role RDS can assume."""
    interval = int(number(get(args.props, "monitoringInterval"), 0))
    if interval not in MONITORING_INTERVALS:
        report(
            f"Instance {label(args)} has no Enhanced Monitoring (monitoringInterval {interval}), "
            "so a starved instance shows no per-process CPU, memory or I/O. Set "
            "monitoring_interval=60 and monitoring_role_arn to a role with "
            "AmazonRDSEnhancedMonitoringRole that monitoring.rds.amazonaws.com may assume."
        )
    elif not get(args.props, "monitoringRoleArn"):
        report(
            f"Instance {label(args)} sets monitoringInterval without monitoring_role_arn. Give "
            "it a role with AmazonRDSEnhancedMonitoringRole that monitoring.rds.amazonaws.com "
            "may assume."
        )


POLICIES = [
    aurora_storage_encrypted,
    aurora_not_publicly_accessible,
    aurora_backup_retention,
    aurora_deletion_protection,
    aurora_multi_az_readers,
    aurora_log_exports,
    aurora_managed_master_password,
    aurora_enhanced_monitoring,
]
