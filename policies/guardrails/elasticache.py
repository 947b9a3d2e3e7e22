"""ElastiCache rules: TLS, encryption at rest with a KMS key, AUTH, private subnets, failover.

They cover the three shapes a program may create: a replication group (what this one builds),
a serverless cache, and a bare cluster (which can have neither AUTH nor encryption at rest with
Redis OSS or Valkey, so it is reported with the way out: a replication group).
"""

from __future__ import annotations

from dataclasses import dataclass

from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

from guardrails.eks import public_subnet_ids, subnets_by_id
from guardrails.props import Report, aws_managed_key, for_types, get, items, label, number, truthy
from guardrails.rules import resource_rule, stack_rule
from guardrails.settings import RuleSettings, setting

REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
SERVERLESS_CACHE = "aws:elasticache/serverlessCache:ServerlessCache"
CLUSTER = "aws:elasticache/cluster:Cluster"
SUBNET_GROUP = "aws:elasticache/subnetGroup:SubnetGroup"
CACHES = (REPLICATION_GROUP, SERVERLESS_CACHE, CLUSTER)
USE_A_REPLICATION_GROUP = (
    "A single aws.elasticache.Cluster of Redis OSS or Valkey can have neither; create an "
    "aws.elasticache.ReplicationGroup instead."
)


def _kind(args) -> str:
    return args.resource_type.rsplit(":", 1)[-1]


@resource_rule(
    "elasticache-encryption-in-transit",
    "ElastiCache must require TLS (serverless caches always do).",
)
@for_types(REPLICATION_GROUP, CLUSTER)
def elasticache_encryption_in_transit(args: ResourceValidationArgs, report: Report) -> None:
    """Clients must speak TLS: transit encryption on, and required rather than preferred."""
    if not truthy(get(args.props, "transitEncryptionEnabled")):
        report(
            f"{_kind(args)} {label(args)} accepts plaintext connections (and with them an AUTH "
            "token in clear). Set transit_encryption_enabled=True and give clients a rediss:// URL."
        )
    elif str(get(args.props, "transitEncryptionMode", "required")) != "required":
        report(
            f"{_kind(args)} {label(args)} has transitEncryptionMode "
            f"'{get(args.props, 'transitEncryptionMode')}', which still admits plaintext. Set "
            "transit_encryption_mode='required' once every client uses TLS."
        )


def _standalone_cluster(args: ResourceValidationArgs) -> bool:
    """A Redis or Valkey cluster outside a replication group: it has neither encryption at
    rest nor AUTH of its own (a replication group's member clusters inherit the group's)."""
    return str(get(args.props, "engine", "")) != "memcached" and not get(
        args.props, "replicationGroupId")


@resource_rule(
    "elasticache-encryption-at-rest",
    "ElastiCache must be encrypted at rest with a customer-managed KMS key.",
)
@for_types(*CACHES)
def elasticache_encryption_at_rest(args: ResourceValidationArgs, report: Report) -> None:
    """Data and snapshots are encrypted at rest with a customer-managed KMS key."""
    if args.resource_type == CLUSTER:
        if _standalone_cluster(args):
            report(f"Cluster {label(args)} cannot encrypt at rest. {USE_A_REPLICATION_GROUP}")
        return
    if args.resource_type == REPLICATION_GROUP and not truthy(
        get(args.props, "atRestEncryptionEnabled")
    ):
        report(
            f"ReplicationGroup {label(args)} does not encrypt data at rest. Set "
            "at_rest_encryption_enabled=True and kms_key_id (it cannot be added later: the group "
            "would be replaced)."
        )
        return
    if aws_managed_key(get(args.props, "kmsKeyId")):
        report(
            f"{_kind(args)} {label(args)} is encrypted at rest with the AWS-managed key. Set "
            "kms_key_id to the ARN of a customer-managed aws.kms.Key, so that its policy, rotation "
            "and audit are yours."
        )


@resource_rule(
    "elasticache-auth-required",
    "ElastiCache must require AUTH (a token or RBAC users).",
)
@for_types(*CACHES)
def elasticache_auth_required(args: ResourceValidationArgs, report: Report) -> None:
    """Connections authenticate: an AUTH token, or RBAC users through a user group."""
    if args.resource_type == CLUSTER:
        if _standalone_cluster(args):
            report(f"Cluster {label(args)} cannot require AUTH. {USE_A_REPLICATION_GROUP}")
        return
    if args.resource_type == SERVERLESS_CACHE:
        if not get(args.props, "userGroupId"):
            report(
                f"ServerlessCache {label(args)} lets any client in its security group connect "
                "without a password. Set user_group_id to an aws.elasticache.UserGroup whose "
                "users have passwords (or IAM authentication)."
            )
        return
    tokens = [get(args.props, key) for key in ("authToken", "authTokenWo")]
    if not any(tokens) and not items(get(args.props, "userGroupIds")):
        report(
            f"ReplicationGroup {label(args)} lets any client in its security group connect "
            "without a password. Set auth_token (from pulumi_random.RandomPassword, stored in "
            "Secrets Manager and fetched by ARN) or user_group_ids."
        )


def _subnet_ids(cache, groups: dict[str, PolicyResource]) -> list[str] | None:
    """The subnets a cache's nodes go to; None when it uses the default subnet group."""
    if cache.resource_type == SERVERLESS_CACHE:
        ids = [str(s) for s in items(get(cache.props, "subnetIds"))]
        return ids or None
    group = groups.get(str(get(cache.props, "subnetGroupName", "")))
    return None if group is None else [str(s) for s in items(get(group.props, "subnetIds"))]


@stack_rule(
    "elasticache-private-subnets",
    "ElastiCache nodes must be in private subnets, never public or default ones.",
)
def elasticache_private_subnets(args: StackValidationArgs, report: Report) -> None:
    """Every cache is placed, through its subnet group, in subnets with no internet route."""
    groups = {
        str(get(r.props, "name", "")): r for r in args.resources if r.resource_type == SUBNET_GROUP
    }
    subnets, public = subnets_by_id(args), public_subnet_ids(args)
    for cache in args.resources:
        if cache.resource_type not in CACHES:
            continue
        if cache.resource_type == CLUSTER and get(cache.props, "replicationGroupId"):
            continue  # a member of a replication group goes where the group goes
        placed = _subnet_ids(cache, groups)
        if placed is None:
            report(
                f"{cache.resource_type.rsplit(':', 1)[-1]} '{cache.name}' names no subnet group "
                "of this stack, so its nodes go to the default VPC's public subnets. Create an "
                "aws.elasticache.SubnetGroup of the private subnets and set subnet_group_name.",
                cache.urn,
            )
            continue
        exposed = [subnets[s].name if s in subnets else s for s in placed if s in public]
        if exposed:
            report(
                f"{cache.resource_type.rsplit(':', 1)[-1]} '{cache.name}' has nodes in public "
                f"subnet(s) {', '.join(exposed)} (they map public IPs or route to an internet "
                "gateway). Use the private subnets in its subnet group.",
                cache.urn,
            )


@dataclass(frozen=True)
class AutomaticFailover(RuleSettings):
    """The settings of elasticache-automatic-failover."""

    minimum_replicas: int = setting(1, "Fewest replicas besides the primary.", minimum=1)


@resource_rule(
    "elasticache-automatic-failover",
    "ElastiCache needs replicas in other AZs with automatic failover (prod).",
    AutomaticFailover,
)
@for_types(REPLICATION_GROUP, CLUSTER)
def elasticache_automatic_failover(args: ResourceValidationArgs, report: Report) -> None:
    """A replica in another AZ takes over by itself when the primary or its zone fails."""
    minimum = AutomaticFailover.read(args).minimum_replicas
    if args.resource_type == CLUSTER:
        if not get(args.props, "replicationGroupId"):
            report(f"Cluster {label(args)} has no replica to fail over to. "
                   f"{USE_A_REPLICATION_GROUP}")
        return
    nodes = number(get(args.props, "numCacheClusters"))
    replicas = number(get(args.props, "replicasPerNodeGroup"))
    count = int(replicas if replicas is not None else (nodes or 1) - 1)
    missing = [flag for flag in ("automaticFailoverEnabled", "multiAzEnabled")
               if not truthy(get(args.props, flag))]
    if count < minimum or missing:
        off = f" ({' and '.join(missing)} off)" if missing else ""
        report(
            f"ReplicationGroup {label(args)} has {count} replica(s){off}; at least {minimum} in "
            "another AZ with automatic failover are required. Set "
            "num_cache_clusters to 1 + replicas (cacheReplicaCount), "
            "automatic_failover_enabled=True, multi_az_enabled=True and "
            "preferred_cache_cluster_azs one zone per node."
        )


POLICIES = [
    elasticache_encryption_in_transit,
    elasticache_encryption_at_rest,
    elasticache_auth_required,
    elasticache_private_subnets,
    elasticache_automatic_failover,
]
