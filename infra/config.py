"""The stack configuration, read once into a typed object.

Only this module calls ``pulumi.Config()``. Components receive the typed pieces
they need, so they can be built in tests without any stack config at all.
Defaults and descriptions live in the project-level schema in ``Pulumi.yaml``;
what is refused, and why, in ``infra/validation.py``; the Kubernetes versions and everything
pinned to each in ``infra/kubernetes_versions.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from infra import capacity
from infra import kubernetes_versions as versions
from infra.components.certificate import ApiTls
from infra.components.database_restore import DatabaseRestore
from infra.components.user_pool import ExternalIssuer
from order_platform import processes


class StackConfigError(ValueError):
    """A stack setting is missing or unsafe; the message names it."""


@dataclass(frozen=True)
class Scale:
    """Replica bounds of one Deployment: its initial replicas and HPA range."""

    min_replicas: int
    max_replicas: int


@dataclass(frozen=True)
class ClusterAccess:
    """Who reaches the Kubernetes API: each IAM role gets an access entry in the stack."""

    deployer_role_arns: tuple[str, ...]
    """CI and the people who run ``pulumi up``: cluster admin (the program applies RBAC, CRDs
    and Helm charts)."""
    admin_role_arns: tuple[str, ...]
    viewer_role_arns: tuple[str, ...]
    """Read-only colleagues (AmazonEKSViewPolicy)."""


@dataclass(frozen=True)
class StackConfig:
    """Everything the program needs from ``Pulumi.<stack>.yaml`` and the project defaults."""

    project: str
    stack: str
    region: str
    owner: str
    cost_center: str
    vpc_cidr: str
    az_count: int
    nat_strategy: str
    kubernetes_version: str
    cluster_support_type: str
    cluster_public_access_cidrs: tuple[str, ...]
    nlb_allowed_cidrs: tuple[str, ...]
    access: ClusterAccess
    system_node_instance_types: tuple[str, ...]
    system_node_min_size: int
    system_node_desired_size: int
    system_node_max_size: int
    node_pool_instance_types: tuple[str, ...]
    node_pool_max_nodes: int
    node_ami_alias: str
    """Empty: the AMI release pinned for ``kubernetes_version`` (see ``karpenter_ami_alias``)."""
    db_engine_version: str
    """The Aurora PostgreSQL major; AWS picks and upgrades the minor."""
    db_major_version_upgrade: bool
    db_instance_class: str
    db_reader_count: int
    db_name: str
    db_backup_retention_days: int
    db_deletion_protection: bool
    db_final_snapshot: bool
    log_retention_days: int
    lb_deletion_protection: bool
    image_tag: str
    namespace: str
    worker_concurrency: int
    scales: dict[str, Scale]
    queue_age_alarm_seconds: int
    alarm_email: str | None
    """None when unset: the alarm topic then has no subscriber."""
    orders_per_second: int = 0
    """Assumed monthly-average traffic; only the cost estimate (``cost/``) reads it."""
    collector_enabled: bool = False
    """The managed collector (ADOT): scrapes the pods into CloudWatch, exports traces to X-Ray."""
    trace_sample_percent: int = 100
    """Share of traces the collector keeps (by trace id, so a trace is kept whole or not)."""
    api_error_rate_alarm_percent: float = 5.0
    """The API alarm fires when more than this share of an API's requests answer 5xx."""
    api_latency_p99_alarm_seconds: float = 1.0
    """The API alarm fires when an API's p99 exceeds this; a bucket bound of the histogram."""
    api_alarm_min_requests: int = 100
    """Below this many requests a minute, an API alarm does not count the minute as bad."""
    cache_enabled: bool = False
    """The product cache (ElastiCache for Valkey); off, nothing of it is created."""
    cache_node_type: str = "cache.t4g.small"
    cache_replicas: int = 0
    """Replicas besides the primary, each in another AZ; one or more turns failover on."""
    api_tls: ApiTls = field(default_factory=lambda: ApiTls(enabled=False))
    """The API listeners' TLS (``apiTls``): every stack file says what it wants."""
    api_auth: ExternalIssuer | None = None
    """None: the stack's own Cognito user pool issues the APIs' tokens."""
    db_backup_copy_region: str = ""
    """Empty: no copies. Else AWS Backup copies a daily snapshot of the cluster to this region."""
    db_backup_copy_retention_days: int = 14
    db_restore: DatabaseRestore | None = None
    """Set: the cluster is created from a snapshot or a point in time (``dbRestore``)."""

    @property
    def prefix(self) -> str:
        """Resource-name prefix, ``order-platform-<stack>``."""
        return f"{self.project}-{self.stack}"

    @property
    def tags(self) -> dict[str, str]:
        """The default tags every AWS resource carries (through the provider)."""
        return {"environment": self.stack, "owner": self.owner, "cost-center": self.cost_center}

    @property
    def max_replicas(self) -> dict[str, int]:
        """Each role's HPA maximum."""
        return {role: scale.max_replicas for role, scale in self.scales.items()}

    @property
    def kubernetes(self) -> versions.KubernetesRelease:
        """Everything pinned to the stack's Kubernetes version (validated)."""
        return versions.release(self.kubernetes_version)

    @property
    def karpenter_ami_alias(self) -> str:
        """``nodeAmiAlias`` when set, else the AMI release pinned for the Kubernetes version."""
        return self.node_ami_alias or self.kubernetes.karpenter_ami_alias

    @property
    def node_pool_shape(self) -> capacity.InstanceShape:
        """The one shape every NodePool instance type shares (validated)."""
        return capacity.INSTANCE_SHAPES[self.node_pool_instance_types[0]]


def workload_roles() -> tuple[str, ...]:
    """The Deployments, one per deployed process of the catalogue."""
    return tuple(p.role for p in processes.DEPLOYED)


def replica_keys(role: str) -> tuple[str, str]:
    """The HPA config keys of a role: ``writeApiMinReplicas``, ``writeApiMaxReplicas``."""
    head, *rest = role.split("-")
    stem = head + "".join(part.capitalize() for part in rest)
    return f"{stem}MinReplicas", f"{stem}MaxReplicas"


def load_stack_config() -> StackConfig:
    """Read and validate the current stack's config; raise StackConfigError naming the key."""
    cfg = pulumi.Config()
    aws_cfg = pulumi.Config("aws")
    scales = {role: Scale(*(cfg.require_int(key) for key in replica_keys(role)))
              for role in workload_roles()}
    config = StackConfig(
        project=pulumi.get_project(),
        stack=pulumi.get_stack(),
        region=aws_cfg.require("region"),
        owner=cfg.require("owner"),
        cost_center=cfg.require("costCenter"),
        vpc_cidr=cfg.require("vpcCidr"),
        az_count=cfg.require_int("azCount"),
        nat_strategy=cfg.require("natStrategy"),
        kubernetes_version=cfg.require("kubernetesVersion"),
        cluster_support_type=cfg.require("clusterSupportType"),
        cluster_public_access_cidrs=tuple(cfg.require_object("clusterPublicAccessCidrs")),
        nlb_allowed_cidrs=tuple(cfg.require_object("nlbAllowedCidrs")),
        access=ClusterAccess(
            deployer_role_arns=tuple(cfg.get_object("clusterDeployerRoleArns") or ()),
            admin_role_arns=tuple(cfg.get_object("clusterAdminRoleArns") or ()),
            viewer_role_arns=tuple(cfg.get_object("clusterViewerRoleArns") or ())),
        system_node_instance_types=tuple(cfg.require_object("systemNodeInstanceTypes")),
        system_node_min_size=cfg.require_int("systemNodeMinSize"),
        system_node_desired_size=cfg.require_int("systemNodeDesiredSize"),
        system_node_max_size=cfg.require_int("systemNodeMaxSize"),
        node_pool_instance_types=tuple(cfg.require_object("nodePoolInstanceTypes")),
        node_pool_max_nodes=cfg.require_int("nodePoolMaxNodes"),
        node_ami_alias=(cfg.get("nodeAmiAlias") or "").strip(),
        db_engine_version=cfg.require("dbEngineVersion"),
        db_major_version_upgrade=cfg.require_bool("dbMajorVersionUpgrade"),
        db_instance_class=cfg.require("dbInstanceClass"),
        db_reader_count=cfg.require_int("dbReaderCount"),
        db_name=cfg.require("dbName"),
        db_backup_retention_days=cfg.require_int("dbBackupRetentionDays"),
        db_deletion_protection=cfg.require_bool("dbDeletionProtection"),
        db_final_snapshot=cfg.require_bool("dbFinalSnapshot"),
        log_retention_days=cfg.require_int("logRetentionDays"),
        lb_deletion_protection=cfg.require_bool("lbDeletionProtection"),
        image_tag=cfg.require("imageTag"),
        namespace=cfg.require("namespace"),
        worker_concurrency=cfg.require_int("workerConcurrency"),
        scales=scales,
        queue_age_alarm_seconds=cfg.require_int("queueAgeAlarmSeconds"),
        alarm_email=(cfg.get("alarmEmail") or "").strip() or None,
        orders_per_second=cfg.require_int("ordersPerSecond"),
        collector_enabled=cfg.require_bool("collectorEnabled"),
        trace_sample_percent=cfg.require_int("traceSamplePercent"),
        api_error_rate_alarm_percent=cfg.require_float("apiErrorRateAlarmPercent"),
        api_latency_p99_alarm_seconds=cfg.require_float("apiLatencyP99AlarmSeconds"),
        api_alarm_min_requests=cfg.require_int("apiAlarmMinRequests"),
        cache_enabled=cfg.require_bool("cacheEnabled"),
        cache_node_type=cfg.require("cacheNodeType"),
        cache_replicas=cfg.require_int("cacheReplicaCount"),
        api_tls=ApiTls.from_config(cfg.require_object("apiTls")),
        api_auth=ExternalIssuer.from_config(cfg.get_object("apiAuth")),
        db_backup_copy_region=(cfg.get("dbBackupCopyRegion") or "").strip(),
        db_backup_copy_retention_days=cfg.require_int("dbBackupCopyRetentionDays"),
        db_restore=DatabaseRestore.from_config(cfg.get_object("dbRestore")),
    )
    from infra.validation import validate  # it reads StackConfig from here

    validate(config)
    return config
