"""IRSA roles, one per Kubernetes ServiceAccount, each naming exact resource ARNs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import iam


@dataclass(frozen=True)
class ServiceIdentityArgs:
    """Who may assume which role, and what each role may do beyond reading the DB secret."""

    role_name_prefix: str
    namespace: str
    region: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    db_secret_arn: pulumi.Input[str]
    db_secret_kms_key_arn: pulumi.Input[str]
    grants: Mapping[str, Sequence[dict]]
    """ServiceAccount name -> extra statements (built with ``iam.statement``)."""


def db_secret_statements(secret_arn: pulumi.Input[str], key_arn: pulumi.Input[str],
                         region: str) -> list[dict]:
    """Read the one DB secret, and decrypt with its key only when Secrets Manager asks."""
    return [
        iam.statement("ReadDatabaseSecret",
                      ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                      [secret_arn]),
        iam.statement("DecryptDatabaseSecret", ["kms:Decrypt"], [key_arn],
                      {"StringEquals": {
                          "kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}),
    ]


class ServiceIdentities(pulumi.ComponentResource):
    """An IAM role per ServiceAccount, trusted only by that ServiceAccount (through OIDC)."""

    role_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ServiceIdentityArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:identity:ServiceIdentities", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        common = db_secret_statements(args.db_secret_arn, args.db_secret_kms_key_arn, args.region)
        self.role_arns = {}
        for account, extra in args.grants.items():
            role = aws.iam.Role(
                f"{name}-{account}",
                name=f"{args.role_name_prefix}-{account}",
                description=f"IRSA role of the {args.namespace}/{account} ServiceAccount",
                assume_role_policy=iam.irsa_trust_policy(
                    args.oidc_provider_arn, args.oidc_issuer, args.namespace, account),
                opts=child)
            aws.iam.RolePolicy(f"{name}-{account}", role=role.name,
                               policy=iam.policy_document([*common, *extra]), opts=child)
            self.role_arns[account] = role.arn
        self.register_outputs({"roleArns": self.role_arns})
