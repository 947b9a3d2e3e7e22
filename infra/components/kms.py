"""The stack's customer-managed KMS keys: rotated yearly, with an alias to find them by."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

DELETION_WINDOW_DAYS = 30
"""The longest wait AWS allows: a key scheduled for deletion by mistake can be cancelled."""


def aliased_key(logical: str, description: str, alias: str, opts: pulumi.ResourceOptions,
                policy: str | None = None) -> aws.kms.Key:
    """A rotated key and ``alias/<alias>`` pointing at it, both under the logical name given."""
    key = aws.kms.Key(logical, description=description, enable_key_rotation=True,
                      deletion_window_in_days=DELETION_WINDOW_DAYS, policy=policy, opts=opts)
    aws.kms.Alias(logical, name=f"alias/{alias}", target_key_id=key.key_id, opts=opts)
    return key


def key_policy(partition: str, account_id: str, service_use: dict) -> dict:
    """A key policy: the account administers the key (IAM may grant it), a service uses it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AccountAdministersKey", "Effect": "Allow",
             "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
             "Action": "kms:*", "Resource": "*"},
            service_use,
        ],
    }
