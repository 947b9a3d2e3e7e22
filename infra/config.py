"""The stack configuration, read once into a typed object.

Only this module calls ``pulumi.Config()``. Components receive the typed pieces
they need, so they can be built in tests without any stack config at all.
Defaults and descriptions live in the project-level schema in ``Pulumi.yaml``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import pulumi

from order_platform.topology import QUEUES

NAT_STRATEGIES = ("single", "per-az")
WORKLOADS = ("write-api", "read-api", "worker", "relay")
OPEN_CIDR = "0.0.0.0/0"
MIN_AGE_ALARM_SECONDS = 60  # SQS publishes its metrics once a minute
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class StackConfigError(ValueError):
    """A stack setting is missing or unsafe; the message names it."""


@dataclass(frozen=True)
class Scale:
    """Replica bounds of one Deployment: its initial replicas and HPA range."""

    min_replicas: int
    max_replicas: int


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
    cluster_public_access_cidrs: tuple[str, ...]
    nlb_allowed_cidrs: tuple[str, ...]
    cluster_admin_role_arns: tuple[str, ...]
    node_instance_types: tuple[str, ...]
    node_min_size: int
    node_desired_size: int
    node_max_size: int
    db_engine_version: str
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

    @property
    def prefix(self) -> str:
        """Resource-name prefix, ``order-platform-<stack>``."""
        return f"{self.project}-{self.stack}"

    @property
    def tags(self) -> dict[str, str]:
        """The default tags every AWS resource carries (through the provider)."""
        return {"environment": self.stack, "owner": self.owner, "cost-center": self.cost_center}


def load_stack_config() -> StackConfig:
    """Read and validate the current stack's config; raise StackConfigError naming the key."""
    cfg = pulumi.Config()
    aws_cfg = pulumi.Config("aws")
    scales = {
        name: Scale(cfg.require_int(f"{_camel(name)}MinReplicas"),
                    cfg.require_int(f"{_camel(name)}MaxReplicas"))
        for name in WORKLOADS
    }
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
        cluster_public_access_cidrs=tuple(cfg.require_object("clusterPublicAccessCidrs")),
        nlb_allowed_cidrs=tuple(cfg.require_object("nlbAllowedCidrs")),
        cluster_admin_role_arns=tuple(cfg.get_object("clusterAdminRoleArns") or ()),
        node_instance_types=tuple(cfg.require_object("nodeInstanceTypes")),
        node_min_size=cfg.require_int("nodeMinSize"),
        node_desired_size=cfg.require_int("nodeDesiredSize"),
        node_max_size=cfg.require_int("nodeMaxSize"),
        db_engine_version=cfg.require("dbEngineVersion"),
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
    )
    validate(config)
    return config


def validate(config: StackConfig) -> None:
    """Refuse settings that would build an unsafe or broken stack."""
    problems = [*_network_problems(config), *_sizing_problems(config),
                *_alarm_problems(config)]
    tag = config.image_tag.strip()
    if not tag or tag == "latest":
        problems.append("imageTag must name an immutable tag, never empty or 'latest'")
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


def _sizing_problems(config: StackConfig) -> list[str]:
    problems: list[str] = []
    if not config.node_min_size <= config.node_desired_size <= config.node_max_size:
        problems.append("node sizes must satisfy nodeMinSize <= nodeDesiredSize <= nodeMaxSize")
    if config.db_reader_count < 0:
        problems.append("dbReaderCount must not be negative")
    if not 1 <= config.db_backup_retention_days <= 35:
        problems.append("dbBackupRetentionDays must be between 1 and 35")
    for name, scale in config.scales.items():
        if not 1 <= scale.min_replicas <= scale.max_replicas:
            problems.append(f"{_camel(name)}MinReplicas/MaxReplicas must satisfy 1 <= min <= max")
    return problems


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


def _camel(workload: str) -> str:
    """``write-api`` -> ``writeApi``: the config key stem of a workload."""
    head, *rest = workload.split("-")
    return head + "".join(part.capitalize() for part in rest)
