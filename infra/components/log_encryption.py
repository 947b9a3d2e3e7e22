"""The KMS key every CloudWatch log group of a stack is encrypted with.

Flow logs, the EKS control plane and Aurora all write there; CloudWatch Logs encrypts and
decrypts on their behalf, so the key policy lets the Logs service of this region use the key,
and only for log groups of this account.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi

from infra.components import kms
from infra.components.component import Component


@dataclass(frozen=True)
class LogEncryptionArgs:
    """Where the key lives and who administers it."""

    alias: str
    region: str
    account_id: str
    partition: str


def logs_key_policy(partition: str, region: str, account_id: str) -> dict:
    """The account administers the key; CloudWatch Logs uses it for this account's log groups."""
    return kms.key_policy(partition, account_id, {
        "Sid": "CloudWatchLogsEncrypt", "Effect": "Allow",
        "Principal": {"Service": f"logs.{region}.amazonaws.com"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                   "kms:Describe*"],
        "Resource": "*",
        # The encryption context names the log group: none of another account's.
        "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                  f"arn:{partition}:logs:{region}:{account_id}:log-group:*"}}})


class LogEncryption(Component[LogEncryptionArgs]):
    """A rotated customer-managed key for the stack's log groups."""

    key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: LogEncryptionArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:logs:LogEncryption", name, args, opts)
        key = kms.aliased_key(
            f"{name}-logs", f"CloudWatch Logs of {args.alias}", f"{args.alias}-logs", self._child,
            policy=json.dumps(logs_key_policy(args.partition, args.region, args.account_id)))
        self.key_arn = key.arn
        self.register_outputs({"keyArn": self.key_arn})
