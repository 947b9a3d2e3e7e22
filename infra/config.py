"""The stack configuration, read once into a typed object.

Only this module calls ``pulumi.Config()``. Components receive the typed pieces
they need, so they can be built in tests without any stack config at all.
Defaults and descriptions live in the project-level schema in ``Pulumi.yaml``;
what AWS accepts only from a list is in ``infra/accepted_values.py``; what the
workload nodes hold is in ``infra/capacity.py``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import pulumi

from infra import accepted_values as accepted
from infra import capacity
from infra.components.database_restore import DatabaseRestore
from order_platform import processes, telemetry
from order_platform.topology import QUEUES

NAT_STRATEGIES = ("single", "per-az")
OPEN_CIDR = "0.0.0.0/0"
MIN_AGE_ALARM_SECONDS = 60  # SQS publishes its metrics once a minute
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")


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
        node_ami_alias=cfg.require("nodeAmiAlias"),
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
        db_backup_copy_region=(cfg.get("dbBackupCopyRegion") or "").strip(),
        db_backup_copy_retention_days=cfg.require_int("dbBackupCopyRetentionDays"),
        db_restore=DatabaseRestore.from_config(cfg.get_object("dbRestore")),
    )
    validate(config)
    return config


def validate(config: StackConfig) -> None:
    """Refuse settings that would build an unsafe or broken stack."""
    problems = [*_network_problems(config), *_cluster_problems(config),
                *_access_problems(config), *_node_problems(config),
                *_database_problems(config), *_alarm_problems(config),
                *_observability_problems(config), *_cache_problems(config)]
    tag = config.image_tag.strip()
    if not tag or tag == "latest":
        problems.append("imageTag must name an immutable tag, never empty or 'latest'")
    if config.orders_per_second < 0:
        problems.append("ordersPerSecond must not be negative (it is the assumed traffic)")
    if config.log_retention_days not in accepted.LOG_RETENTION_DAYS:
        problems.append(f"logRetentionDays must be one of CloudWatch's values "
                        f"{accepted.LOG_RETENTION_DAYS}, not {config.log_retention_days}")
    if problems:
        raise StackConfigError(f"stack {config.stack!r}: " + "; ".join(problems))


def _network_problems(config: StackConfig) -> list[str]:
    problems: list[str] = []
    if config.nat_strategy not in NAT_STRATEGIES:
        problems.append(f"natStrategy must be one of {NAT_STRATEGIES}, not {config.nat_strategy!r}")
    if not 2 <= config.az_count <= 3:
        problems.append("azCount must be 2 or 3 (the subnet plan carves a /16 into quarters)")
    for key, cidrs in (("clusterPublicAccessCidrs", config.cluster_public_access_cidrs),
                       ("nlbAllowedCidrs", config.nlb_allowed_cidrs)):
        if not cidrs:
            problems.append(f"{key} must list at least one CIDR")
        for cidr in cidrs:
            try:
                ipaddress.ip_network(cidr)
            except ValueError:
                problems.append(f"{key} has an invalid CIDR {cidr!r}")
    if config.stack == "prod" and OPEN_CIDR in config.cluster_public_access_cidrs:
        problems.append("clusterPublicAccessCidrs must not contain 0.0.0.0/0 in prod")
    return problems


def _cluster_problems(config: StackConfig) -> list[str]:
    problems: list[str] = []
    if config.kubernetes_version not in accepted.KUBERNETES_VERSIONS:
        problems.append(f"kubernetesVersion must be one of {accepted.KUBERNETES_VERSIONS}, "
                        f"not {config.kubernetes_version!r}")
    if config.cluster_support_type not in accepted.CLUSTER_SUPPORT_TYPES:
        problems.append(f"clusterSupportType must be one of {accepted.CLUSTER_SUPPORT_TYPES}, "
                        f"not {config.cluster_support_type!r}")
    if not accepted.NODE_AMI_ALIAS.fullmatch(config.node_ami_alias):
        problems.append(f"nodeAmiAlias must be al2023@latest or al2023@v<YYYYMMDD>, "
                        f"not {config.node_ami_alias!r}")
    return problems


def _access_problems(config: StackConfig) -> list[str]:
    access = config.access
    problems: list[str] = []
    if not access.deployer_role_arns:
        problems.append("clusterDeployerRoleArns must list at least one IAM role: with no "
                        "cluster-creator admin, only these roles can apply the Kubernetes side")
    named = [*access.deployer_role_arns, *access.admin_role_arns, *access.viewer_role_arns]
    for arn in named:
        if not accepted.IAM_ROLE_ARN.fullmatch(arn):
            problems.append(f"{arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>;"
                            " for SSO use the role behind the session, not the session)")
    duplicates = sorted({arn for arn in named if named.count(arn) > 1})
    if duplicates:
        problems.append(f"each role may have one access entry; listed twice: {duplicates}")
    return problems


def _node_problems(config: StackConfig) -> list[str]:
    problems: list[str] = []
    if not 1 <= config.system_node_min_size <= config.system_node_desired_size \
            <= config.system_node_max_size:
        problems.append("system node sizes must satisfy 1 <= systemNodeMinSize <= "
                        "systemNodeDesiredSize <= systemNodeMaxSize")
    if config.node_pool_max_nodes < 1:
        problems.append("nodePoolMaxNodes must be at least 1")
    for key, types in (("systemNodeInstanceTypes", config.system_node_instance_types),
                       ("nodePoolInstanceTypes", config.node_pool_instance_types)):
        unknown = [t for t in types if t not in capacity.INSTANCE_SHAPES]
        if not types or unknown:
            problems.append(f"{key} must list x86_64 types from infra/capacity.INSTANCE_SHAPES "
                            f"(the image is {capacity.NODE_ARCHITECTURE}); unknown: {unknown}")
    for name, scale in config.scales.items():
        if not 1 <= scale.min_replicas <= scale.max_replicas:
            problems.append(f"{'/'.join(replica_keys(name))} must satisfy 1 <= min <= max")
    if problems:
        return problems
    shapes = {capacity.INSTANCE_SHAPES[t] for t in config.node_pool_instance_types}
    if len(shapes) > 1:
        return ["nodePoolInstanceTypes must share one size (vCPU, memory, max pods) so the "
                f"NodePool's limits buy a known number of nodes; got {sorted(shapes, key=str)}"]
    return _capacity_problems(config)


def _capacity_problems(config: StackConfig) -> list[str]:
    missing = [role for role in config.scales if role not in capacity.POD_SIZES]
    if missing:
        return [f"no pod size for {missing}: add them to infra/capacity.POD_SIZES"]
    demand = capacity.release_demand({r: s.max_replicas for r, s in config.scales.items()},
                                     extra=capacity.platform_pods(config.collector_enabled))
    needed = capacity.nodes_needed(demand, capacity.schedulable(config.node_pool_shape))
    if needed > config.node_pool_max_nodes:
        return [f"nodePoolMaxNodes {config.node_pool_max_nodes} of "
                f"{config.node_pool_instance_types[0]} cannot schedule every replica at the HPA "
                f"maxima during a release (it takes {needed}): raise nodePoolMaxNodes or lower "
                "the *MaxReplicas"]
    return []


def _database_problems(config: StackConfig) -> list[str]:
    problems: list[str] = []
    if config.db_engine_version not in accepted.AURORA_POSTGRESQL_MAJOR_VERSIONS:
        problems.append(f"dbEngineVersion must be an Aurora PostgreSQL major "
                        f"{accepted.AURORA_POSTGRESQL_MAJOR_VERSIONS} (AWS picks and upgrades "
                        f"the minor), not {config.db_engine_version!r}")
    if config.db_instance_class not in accepted.AURORA_POSTGRESQL_INSTANCE_CLASSES:
        problems.append(f"dbInstanceClass {config.db_instance_class!r} is not an Aurora "
                        "PostgreSQL instance class (infra/accepted_values.py)")
    if config.db_reader_count < 0:
        problems.append("dbReaderCount must not be negative")
    if not 1 <= config.db_backup_retention_days <= 35:
        problems.append("dbBackupRetentionDays must be between 1 and 35")
    if config.db_backup_copy_region in (config.region,) or (
            config.db_backup_copy_region and not _REGION.fullmatch(config.db_backup_copy_region)):
        problems.append(f"dbBackupCopyRegion must be another AWS region than {config.region}, "
                        f"not {config.db_backup_copy_region!r}")
    if config.db_backup_copy_retention_days < 1:
        problems.append("dbBackupCopyRetentionDays must be at least 1")
    return problems + (config.db_restore.problems() if config.db_restore else [])


def _alarm_problems(config: StackConfig) -> list[str]:
    problems: list[str] = []
    # An alarm that fires after the messages expired would never fire on a stuck queue.
    retention = min(q.retention_seconds for q in QUEUES)
    if not MIN_AGE_ALARM_SECONDS <= config.queue_age_alarm_seconds < retention:
        problems.append(f"queueAgeAlarmSeconds must be at least {MIN_AGE_ALARM_SECONDS} and "
                        f"below the queues' retention ({retention}s)")
    if config.alarm_email is not None and not _EMAIL.fullmatch(config.alarm_email):
        problems.append(f"alarmEmail {config.alarm_email!r} is not an email address")
    return problems


def _observability_problems(config: StackConfig) -> list[str]:
    problems: list[str] = []
    if not 1 <= config.trace_sample_percent <= 100:
        problems.append("traceSamplePercent must be between 1 and 100")
    if not 0 < config.api_error_rate_alarm_percent < 100:
        problems.append("apiErrorRateAlarmPercent must be above 0 and below 100 (a percentage "
                        "of an API's requests)")
    if config.api_alarm_min_requests < 1:
        problems.append("apiAlarmMinRequests must be at least 1 (requests a minute)")
    bounds = telemetry.HTTP_DURATION.buckets
    # The alarm counts the requests slower than the threshold, which only a bucket bound
    # of the histogram tells exactly.
    if config.api_latency_p99_alarm_seconds not in bounds:
        problems.append(f"apiLatencyP99AlarmSeconds must be a bucket bound of "
                        f"{telemetry.HTTP_DURATION.name} {bounds}, not "
                        f"{config.api_latency_p99_alarm_seconds}")
    return problems


def _cache_problems(config: StackConfig) -> list[str]:
    problems: list[str] = []
    if config.cache_node_type not in accepted.CACHE_NODE_TYPES:
        problems.append(f"cacheNodeType must be one of {accepted.CACHE_NODE_TYPES}, "
                        f"not {config.cache_node_type!r}")
    if not 0 <= config.cache_replicas < config.az_count:
        problems.append(f"cacheReplicaCount must be between 0 and {config.az_count - 1}: each "
                        "replica goes to an availability zone of its own")
    return problems
