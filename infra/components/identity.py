"""IRSA roles, one per process of the catalogue that runs in the cluster, on exact ARNs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import iam
from infra.components.component import Component
from order_platform.processes import Process, Resource


@dataclass(frozen=True)
class CacheSecretGrant:
    """Which processes may read the cache's AUTH secret, and the ARNs it stands for."""

    roles: tuple[str, ...]
    secret_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]


@dataclass(frozen=True)
class ServiceIdentityArgs:
    """Who may assume which role, and the ARNs the catalogue's grants resolve to."""

    role_name_prefix: str
    namespace: str
    region: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    db_secret_arn: pulumi.Input[str]
    db_secret_kms_key_arn: pulumi.Input[str]
    processes: tuple[Process, ...]
    """Each gets a role trusted by the ServiceAccount named after its role."""
    queue_arns: Mapping[str, pulumi.Input[str]]
    """By topology queue key."""
    event_bus_arn: pulumi.Input[str]
    cache: CacheSecretGrant | None = None
    """None when the stack has no cache."""


def secret_statements(name: str, secret_arn: pulumi.Input[str], key_arn: pulumi.Input[str],
                      region: str) -> list[dict]:
    """Read one secret, and decrypt with its key only when Secrets Manager asks."""
    return [
        iam.statement(f"Read{name}Secret",
                      ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                      [secret_arn]),
        iam.statement(f"Decrypt{name}Secret", ["kms:Decrypt"], [key_arn],
                      {"StringEquals": {
                          "kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}),
    ]


def db_secret_statements(secret_arn: pulumi.Input[str], key_arn: pulumi.Input[str],
                         region: str) -> list[dict]:
    """Read the one DB secret, and decrypt with its key only when Secrets Manager asks."""
    return secret_statements("Database", secret_arn, key_arn, region)


def grant_statements(process: Process, queue_arns: Mapping[str, pulumi.Input[str]],
                     event_bus_arn: pulumi.Input[str]) -> list[dict]:
    """The catalogue's grants of a process, each on the exact ARNs its symbol stands for."""
    statements = []
    for grant in process.grants:
        if grant.resource is Resource.CONSUMED_QUEUES:
            resources = [queue_arns[queue.key] for queue in process.consumes]
        elif grant.resource is Resource.EVENT_BUS:
            resources = [event_bus_arn]
        else:
            raise ValueError(f"{process.role}: no ARN for {grant.resource!r}; teach "
                             "infra/components/identity.py what it stands for")
        statements.append(iam.statement(grant.sid, grant.actions, resources))
    return statements


class ServiceIdentities(Component[ServiceIdentityArgs]):
    """An IAM role per ServiceAccount, trusted only by that ServiceAccount (through OIDC)."""

    role_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ServiceIdentityArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:identity:ServiceIdentities", name, args, opts)
        common = db_secret_statements(args.db_secret_arn, args.db_secret_kms_key_arn, args.region)
        self.role_arns = {}
        for process in args.processes:
            account = process.role
            role = aws.iam.Role(
                f"{name}-{account}",
                name=f"{args.role_name_prefix}-{account}",
                description=f"IRSA role of the {args.namespace}/{account} ServiceAccount",
                assume_role_policy=iam.irsa_trust_policy(
                    args.oidc_provider_arn, args.oidc_issuer, args.namespace, account),
                opts=self._child)
            extra = grant_statements(process, args.queue_arns, args.event_bus_arn)
            if args.cache is not None and account in args.cache.roles:
                extra += secret_statements("Cache", args.cache.secret_arn, args.cache.key_arn,
                                           args.region)
            aws.iam.RolePolicy(f"{name}-{account}", role=role.name,
                               policy=iam.policy_document([*common, *extra]), opts=self._child)
            self.role_arns[account] = role.arn
        self.register_outputs({"roleArns": self.role_arns})
