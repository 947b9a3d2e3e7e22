"""The checks ``load_stack_config`` runs: settings that would build an unsafe or broken stack.

Each ``_<area>_problems`` returns what is wrong, in words that name the key and the fix;
``validate`` raises them all at once, before anything is created. What AWS takes only from a
list is in ``infra/accepted_values.py``, what the nodes hold in ``infra/capacity.py``, what the
writer takes in ``infra/writer_capacity.py``, and the Kubernetes versions with their support
windows in ``infra/kubernetes_versions.py``.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date

from infra import accepted_values as accepted
from infra import capacity, writer_capacity
from infra import kubernetes_versions as versions
from infra.config import StackConfig, StackConfigError, replica_keys
from order_platform import telemetry
from order_platform.topology import QUEUES

NAT_STRATEGIES = ("single", "per-az")
OPEN_CIDR = "0.0.0.0/0"
MIN_AGE_ALARM_SECONDS = 60  # SQS publishes its metrics once a minute
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")


def validate(config: StackConfig, today: date | None = None) -> None:
    """Refuse settings that would build an unsafe or broken stack (support windows as of
    ``today``, by default ``kubernetes_versions.today()``)."""
    problems = [*_network_problems(config),
                *_cluster_problems(config, today or versions.today()),
                *_access_problems(config), *_node_problems(config),
                *_database_problems(config), *_alarm_problems(config),
                *_observability_problems(config), *_cache_problems(config),
                *config.api_tls.problems(),
                *(config.api_auth.problems() if config.api_auth else [])]
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


def _cluster_problems(config: StackConfig, today: date) -> list[str]:
    problems: list[str] = []
    if config.cluster_support_type not in accepted.CLUSTER_SUPPORT_TYPES:
        problems.append(f"clusterSupportType must be one of {accepted.CLUSTER_SUPPORT_TYPES}, "
                        f"not {config.cluster_support_type!r}")
    else:
        problems += versions.support_problems(config.kubernetes_version,
                                              config.cluster_support_type, today)
    if config.node_ami_alias and not accepted.NODE_AMI_ALIAS.fullmatch(config.node_ami_alias):
        problems.append(f"nodeAmiAlias must be empty (the release pinned for kubernetesVersion) "
                        f"or al2023@v<YYYYMMDD>, never @latest: not {config.node_ami_alias!r}")
    return problems


def support_warnings(config: StackConfig, today: date | None = None) -> list[str]:
    """What the stack's Kubernetes version is close to (``pulumi up`` prints these)."""
    return versions.support_warnings(config.kubernetes_version, config.cluster_support_type,
                                     today or versions.today())


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
    demand = capacity.release_demand(config.max_replicas,
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
    else:  # the pods at their maxima against what the writer takes
        problems += writer_capacity.writer_problems(config.db_instance_class,
                                                    config.max_replicas)
    if config.db_reader_count < 0:
        problems.append("dbReaderCount must not be negative")
    if not 1 <= config.db_backup_retention_days <= 35:
        problems.append("dbBackupRetentionDays must be between 1 and 35")
    copy_region = config.db_backup_copy_region
    if copy_region and (copy_region == config.region or not _REGION.fullmatch(copy_region)):
        problems.append(f"dbBackupCopyRegion must be another AWS region than {config.region}, "
                        f"not {copy_region!r}")
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


def kubernetes_change_problems(config: StackConfig, running: str | None) -> list[str]:
    """A move from the Kubernetes version the cluster runs that EKS would refuse half-way."""
    wanted = config.kubernetes_version
    if running is None or running == wanted:
        return []
    have, want = (int(version.split(".")[1]) for version in (running, wanted))
    if want < have:
        return [f"kubernetesVersion {wanted} is below the version the cluster runs ({running}; "
                "AWS upgrades a cluster left past its support): EKS cannot downgrade, set "
                f"kubernetesVersion {running}"]
    if want > have + 1:
        return [f"kubernetesVersion {wanted} is {want - have} minors above the cluster's "
                f"{running}: EKS upgrades one minor at a time; set 1.{have + 1}, `up`, then the "
                "next (docs/deploying.md, Upgrading Kubernetes)"]
    return []


def engine_change_problems(config: StackConfig, running_major: str | None) -> list[str]:
    """A move from the Aurora major the cluster runs to ``dbEngineVersion`` that is not explicit.

    ``ignore_changes`` keeps the cluster's version out of every other `up` (AWS's minor
    upgrades), so without this check the parameter group alone would move to the new family
    and the `up` would fail half-way, attaching it to a cluster still on the old major.
    """
    wanted = config.db_engine_version
    if running_major is None or running_major == wanted:
        return []
    if int(wanted) < int(running_major):
        return [f"dbEngineVersion {wanted} is below the major the cluster runs ({running_major}): "
                "Aurora cannot downgrade; restore a snapshot into a new stack instead"]
    if not config.db_major_version_upgrade:
        return [f"dbEngineVersion {wanted} differs from the major the cluster runs "
                f"({running_major}): a major upgrade restarts the database, so it must be "
                "explicit: set dbMajorVersionUpgrade true for this `up` (docs/deploying.md, "
                "Upgrading Aurora PostgreSQL)"]
    return []
