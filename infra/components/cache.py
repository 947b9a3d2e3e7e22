"""The product cache: ElastiCache for Valkey in the private subnets, TLS, KMS, an AUTH token.

A replication group rather than serverless: the services authenticate with a bare AUTH token
(``{"password"}`` in the secret named by ``CACHE_AUTH_SECRET_ARN``), which a replication group
takes directly while serverless Valkey wants RBAC users and user groups; and the replicas, their
AZs and failover are explicit, so a policy can insist on them in prod. The token is generated
here (``pulumi_random``), kept encrypted in the state and in Secrets Manager, and never reaches
a ConfigMap: the read API fetches it by ARN like the database secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.components import kms
from infra.components.component import Component
from order_platform import processes

CLIENT_ROLES = tuple(p.role for p in processes.CACHE_CLIENTS)
"""The processes that reach the cache, from the catalogue: the read API reads and fills it, the
worker evicts from it. Only these get the egress rule to its port and the AUTH-secret grant."""
CACHE_PORT = 6379
ENGINE = "valkey"
ENGINE_VERSION = "8.0"
"""The Valkey major.minor; AWS applies patch releases (auto minor version upgrade)."""
TOKEN_LENGTH = 64
"""ElastiCache takes 16-128 printable characters; letters and digits only, so no character
needs escaping in a URL, a shell or the redis client."""
SECRET_RECOVERY_DAYS = 7
"""A token deleted by mistake can be restored for a week; the name is unique, so this costs the
next creation nothing."""


@dataclass(frozen=True)
class CacheArgs:
    """Where the cache lives, who may reach it, and its size."""

    identifier: str
    """The replication group id, ``order-platform-<stack>-cache`` (at most 40 characters)."""
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    availability_zones: tuple[str, ...]
    client_security_group_id: pulumi.Input[str]
    """The only source admitted on the cache port: the EKS cluster security group."""
    node_type: str
    replicas: int
    """Replicas besides the primary, one per further AZ; one or more turns failover on."""


def cache_url(address: str, port: int) -> str:
    """The contract's ``CACHE_URL``: TLS (``rediss``) to the primary endpoint, no password."""
    return f"rediss://{address}:{port}"


class Cache(Component[CacheArgs]):
    """A Valkey replication group with its key, subnet group, security group and AUTH secret."""

    url: pulumi.Output[str]
    """``rediss://<primary endpoint>:<port>``."""
    auth_secret_arn: pulumi.Output[str]
    """The Secrets Manager secret holding ``{"password": <AUTH token>}``."""
    key_arn: pulumi.Output[str]
    """Encrypts the cache at rest and the secret; readers decrypt through Secrets Manager."""
    security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:cache:Cache", name, args, opts)

        key = kms.aliased_key(f"{name}-cache-key",
                              f"At-rest encryption and AUTH secret of {args.identifier}",
                              args.identifier, self._child)
        token = random.RandomPassword(f"{name}-cache-auth", length=TOKEN_LENGTH, special=False,
                                      opts=self._child)
        secret = self._create_secret(key, token)
        group = self._create_security_group()
        self.replication_group = self._create_replication_group(key, token, group)

        self.url = pulumi.Output.all(self.replication_group.primary_endpoint_address,
                                     self.replication_group.port).apply(
            lambda values: cache_url(values[0], int(values[1])))
        self.auth_secret_arn = secret.arn
        self.key_arn = key.arn
        self.security_group_id = group.id
        self.register_outputs({"url": self.url, "authSecretArn": self.auth_secret_arn})

    def _create_secret(self, key: aws.kms.Key,
                       token: random.RandomPassword) -> aws.secretsmanager.Secret:
        # No fixed name: Secrets Manager keeps a deleted secret's name for its recovery window,
        # so a fixed one made the next `up` after a destroy (or cacheEnabled off and on) fail
        # with "scheduled for deletion". Pulumi's autonaming gives each creation its own name;
        # pods find it by ARN (CACHE_AUTH_SECRET_ARN).
        secret = aws.secretsmanager.Secret(
            f"{self._name}-cache-auth",
            description=f"AUTH token of {self._args.identifier} ({{\"password\"}})",
            kms_key_id=key.arn, recovery_window_in_days=SECRET_RECOVERY_DAYS, opts=self._child)
        document: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.json_dumps({"password": token.result}))
        aws.secretsmanager.SecretVersion(
            f"{self._name}-cache-auth", secret_id=secret.id, secret_string=document,
            opts=self._child)
        return secret

    def _create_security_group(self) -> aws.ec2.SecurityGroup:
        group = aws.ec2.SecurityGroup(
            f"{self._name}-cache-sg", vpc_id=self._args.vpc_id,
            description="Valkey from the EKS cluster only",
            tags={"Name": f"{self._args.identifier}"}, opts=self._child)
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-cache-from-cluster", security_group_id=group.id, ip_protocol="tcp",
            from_port=CACHE_PORT, to_port=CACHE_PORT,
            referenced_security_group_id=self._args.client_security_group_id,
            description="Valkey from EKS nodes and pods", opts=self._child)
        return group

    def _create_replication_group(self, key: aws.kms.Key, token: random.RandomPassword,
                                  group: aws.ec2.SecurityGroup) -> aws.elasticache.ReplicationGroup:
        args = self._args
        subnets = aws.elasticache.SubnetGroup(
            f"{self._name}-cache-subnets", name=f"{args.identifier}",
            description="Private subnets of the product cache",
            subnet_ids=args.private_subnet_ids, opts=self._child)
        nodes = 1 + args.replicas
        zones = args.availability_zones
        failover = args.replicas > 0
        return aws.elasticache.ReplicationGroup(
            f"{self._name}-cache",
            replication_group_id=args.identifier,
            description=f"Product cache of {args.identifier.removesuffix('-cache')}",
            engine=ENGINE, engine_version=ENGINE_VERSION, node_type=args.node_type,
            num_cache_clusters=nodes,
            # The primary in the first AZ, each replica in the next: losing a zone loses one.
            preferred_cache_cluster_azs=[zones[index % len(zones)] for index in range(nodes)],
            automatic_failover_enabled=failover, multi_az_enabled=failover,
            port=CACHE_PORT, subnet_group_name=subnets.name, security_group_ids=[group.id],
            at_rest_encryption_enabled=True, kms_key_id=key.arn,
            transit_encryption_enabled=True, transit_encryption_mode="required",
            auth_token=token.result,
            auto_minor_version_upgrade=True, maintenance_window="sun:04:30-sun:05:30",
            # Derived data: the reader refills it, so no backups to keep or pay for.
            snapshot_retention_limit=0,
            opts=self._child)
