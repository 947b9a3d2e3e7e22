"""Aurora PostgreSQL: isolated subnets, a locked-down security group, KMS, managed master secret."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.accepted_values import aurora_parameter_family
from infra.components import iam, kms
from infra.components.component import Component
from infra.components.database_restore import DatabaseRestore

POSTGRES_PORT = 5432
MASTER_USERNAME = "order_admin"
LOG_EXPORTS = ("postgresql",)
PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7  # the free tier; raise it for longer investigations
MONITORING_INTERVAL_SECONDS = 60
"""Enhanced Monitoring: OS metrics (per-process CPU, memory, I/O) every minute, into the
RDSOSMetrics log group: what Performance Insights cannot show when the instance is short."""
MONITORING_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
FINAL_SNAPSHOT_SUFFIX_BYTES = 4
"""The final snapshot is ``<cluster>-final-<8 hex>``, the hex drawn once per cluster and kept in
the state: snapshots outlive the cluster, so a fixed ``<cluster>-final`` made the second
destroy of a stack fail (the first one's snapshot still has the name)."""

# Sane logging: slow statements, DDL, lock waits, temp files, connections; TLS enforced.
CLUSTER_PARAMETERS = {
    "log_min_duration_statement": "500",
    "log_statement": "ddl",
    "log_lock_waits": "1",
    "log_temp_files": "0",
    "log_connections": "1",
    "log_disconnections": "1",
    "rds.force_ssl": "1",
}


def running_major(identifier: str, opts: pulumi.InvokeOptions) -> str | None:
    """The Aurora major the stack's cluster runs now; None before its first `up`.

    Read (not remembered) so a changed ``dbEngineVersion`` is caught before anything changes;
    only the major is used, so AWS's minor upgrades never change what the program does.
    """
    found = aws.rds.get_clusters(filters=[{"name": "db-cluster-id", "values": [identifier]}],
                                 opts=opts)
    if identifier not in found.cluster_identifiers:
        return None
    return aws.rds.get_cluster(cluster_identifier=identifier, opts=opts).engine_version.split(
        ".")[0]


@dataclass(frozen=True)
class DatabaseArgs:
    """Placement, size and protection of the Aurora cluster."""

    identifier: str
    vpc_id: pulumi.Input[str]
    isolated_subnet_ids: Sequence[pulumi.Input[str]]
    availability_zones: tuple[str, ...]
    client_security_group_id: pulumi.Input[str]
    """The only source admitted on 5432: the EKS cluster security group (nodes and pods)."""
    engine_version: str
    """The PostgreSQL major (``"16"``): AWS chooses the minor and upgrades it automatically."""
    major_version_upgrade: bool
    """True only for the ``up`` that moves ``engine_version`` to a new major."""
    instance_class: str
    reader_count: int
    database_name: str
    backup_retention_days: int
    deletion_protection: bool
    final_snapshot: bool
    log_retention_days: int
    log_kms_key_arn: pulumi.Input[str]
    restore: DatabaseRestore | None = None
    """None: a new, empty cluster. Else the restore that created this one (docs/operations.md)."""


class Database(Component[DatabaseArgs]):
    """An Aurora PostgreSQL cluster: one writer plus N readers spread across AZs."""

    writer_endpoint: pulumi.Output[str]
    reader_endpoint: pulumi.Output[str]
    port: pulumi.Output[int]
    secret_arn: pulumi.Output[str]
    secret_kms_key_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:database:Database", name, args, opts)

        self.key = kms.aliased_key(f"{name}-key",
                                   f"Aurora storage, secret and PI of {args.identifier}",
                                   args.identifier, self._child)
        security_group = self._create_security_group()
        self.cluster = self._create_cluster(security_group)
        self.instances = self._create_instances(self._create_monitoring_role())

        self.writer_endpoint = self.cluster.endpoint
        self.reader_endpoint = self.cluster.reader_endpoint
        self.port = self.cluster.port
        self.secret_arn = self.cluster.master_user_secrets.apply(lambda s: s[0].secret_arn)
        self.secret_kms_key_arn = self.key.arn
        self.security_group_id = security_group.id
        self.register_outputs({
            "writerEndpoint": self.writer_endpoint,
            "readerEndpoint": self.reader_endpoint,
            "secretArn": self.secret_arn,
        })

    def _create_security_group(self) -> aws.ec2.SecurityGroup:
        group = aws.ec2.SecurityGroup(
            f"{self._name}-db-sg", vpc_id=self._args.vpc_id,
            description="PostgreSQL from the EKS cluster only",
            tags={"Name": f"{self._args.identifier}-db"}, opts=self._child)
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-from-cluster", security_group_id=group.id, ip_protocol="tcp",
            from_port=POSTGRES_PORT, to_port=POSTGRES_PORT,
            referenced_security_group_id=self._args.client_security_group_id,
            description="PostgreSQL from EKS nodes and pods", opts=self._child)
        return group

    def _create_cluster(self, security_group: aws.ec2.SecurityGroup) -> aws.rds.Cluster:
        args = self._args
        subnet_group = aws.rds.SubnetGroup(f"{self._name}-subnets",
                                           subnet_ids=args.isolated_subnet_ids,
                                           description="Isolated subnets of the Aurora cluster",
                                           opts=self._child)
        # Autonamed, so a new major's family replaces it create-first: the new group exists
        # before the cluster moves to it (in the same ModifyDBCluster as the engine version,
        # which AWS requires for a major upgrade), and the old one goes once nothing uses it.
        parameters = aws.rds.ClusterParameterGroup(
            f"{self._name}-params", family=aurora_parameter_family(args.engine_version),
            description="order-platform logging and TLS settings",
            parameters=[{"name": k, "value": v, "apply_method": "immediate"}
                        for k, v in CLUSTER_PARAMETERS.items()],
            opts=self._child)
        # Owned here so its retention is ours and `pulumi destroy` removes it.
        log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-postgresql-logs",
            name=f"/aws/rds/cluster/{args.identifier}/postgresql",
            retention_in_days=args.log_retention_days, kms_key_id=args.log_kms_key_arn,
            opts=self._child)
        return aws.rds.Cluster(
            f"{self._name}-cluster",
            cluster_identifier=args.identifier,
            engine="aurora-postgresql",
            engine_version=args.engine_version,
            database_name=args.database_name,
            master_username=MASTER_USERNAME,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=self.key.arn,
            storage_encrypted=True,
            kms_key_id=self.key.arn,
            port=POSTGRES_PORT,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[security_group.id],
            db_cluster_parameter_group_name=parameters.name,
            backup_retention_period=args.backup_retention_days,
            preferred_backup_window="02:00-03:00",
            preferred_maintenance_window="sun:03:30-sun:04:30",
            copy_tags_to_snapshot=True,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not args.final_snapshot,
            final_snapshot_identifier=self._final_snapshot_name() if args.final_snapshot else None,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            allow_major_version_upgrade=args.major_version_upgrade,
            apply_immediately=args.major_version_upgrade or None,
            **(args.restore.cluster_inputs() if args.restore else {}),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[log_group],
                # AWS upgrades the minor in the maintenance window (the instances have
                # auto_minor_version_upgrade); comparing "16" or "16.8" with the "16.9" it
                # runs afterwards would make every later `up` try a downgrade, which RDS
                # refuses. Only a deliberate major upgrade lets the version through.
                ignore_changes=[] if args.major_version_upgrade else ["engineVersion"]))

    def _final_snapshot_name(self) -> pulumi.Output[str]:
        suffix = random.RandomId(f"{self._name}-final-snapshot",
                                 byte_length=FINAL_SNAPSHOT_SUFFIX_BYTES, opts=self._child)
        return suffix.hex.apply(lambda hex_: f"{self._args.identifier}-final-{hex_}")

    def _create_monitoring_role(self) -> aws.iam.Role:
        role = aws.iam.Role(f"{self._name}-monitoring",
                            description=f"Enhanced Monitoring of {self._args.identifier}",
                            assume_role_policy=iam.service_trust_policy(
                                "monitoring.rds.amazonaws.com"), opts=self._child)
        # RDS checks the role's rights when an instance starts monitoring.
        attachment = aws.iam.RolePolicyAttachment(
            f"{self._name}-monitoring", role=role.name, policy_arn=MONITORING_POLICY,
            opts=self._child)
        self._monitoring_grant = attachment
        return role

    def _create_instances(self, monitoring: aws.iam.Role) -> list[aws.rds.ClusterInstance]:
        args = self._args
        zones = args.availability_zones
        instances: list[aws.rds.ClusterInstance] = []
        # The first instance becomes the writer; readers follow it, one per AZ in turn.
        for index in range(1 + args.reader_count):
            role = "writer" if index == 0 else f"reader-{index}"
            instances.append(aws.rds.ClusterInstance(
                f"{self._name}-{role}",
                identifier=f"{args.identifier}-{index}",
                cluster_identifier=self.cluster.id,
                engine="aurora-postgresql",
                # No engine_version: instances run the cluster's, whatever minor AWS chose.
                instance_class=args.instance_class,
                availability_zone=zones[index % len(zones)],
                promotion_tier=0 if index == 0 else 1,
                publicly_accessible=False,
                auto_minor_version_upgrade=True,
                performance_insights_enabled=True,
                performance_insights_kms_key_id=self.key.arn,
                performance_insights_retention_period=PERFORMANCE_INSIGHTS_RETENTION_DAYS,
                monitoring_interval=MONITORING_INTERVAL_SECONDS,
                monitoring_role_arn=monitoring.arn,
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[*instances[:1], self._monitoring_grant])))
        return instances
