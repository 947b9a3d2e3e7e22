"""Every customer-managed KMS key of a stack: rotated, a 30-day deletion window, an alias, and
(where it has a policy of its own) administered by the account."""

from __future__ import annotations

import json

from infra.mock_resources import ACCOUNT_ID

KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"


def test_every_key_rotates_waits_30_days_before_deletion_and_has_its_alias(run):
    keys = run.of_type(KEY)
    assert keys, "the stack has no KMS key"
    aliases = {(a.name, a.parent): a for a in run.of_type(ALIAS)}
    for key in keys:
        assert key.inputs["enableKeyRotation"] is True, key.name
        assert key.inputs["deletionWindowInDays"] == 30, key.name
        alias = aliases[(key.name, key.parent)]
        assert alias.inputs["targetKeyId"] == key.outputs["keyId"], key.name
        assert alias.inputs["name"].startswith("alias/"), key.name


def test_a_key_with_its_own_policy_stays_administered_by_the_account(run):
    with_policy = [k for k in run.of_type(KEY) if k.inputs.get("policy")]
    assert with_policy, "no key has a policy of its own"
    for key in with_policy:
        statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
        admin = statements["AccountAdministersKey"]
        assert admin["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, key.name
        assert (admin["Effect"], admin["Action"], admin["Resource"]) == ("Allow", "kms:*", "*")
