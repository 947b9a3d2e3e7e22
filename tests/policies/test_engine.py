"""The offline engine: policy-config reconciliation and the wire shape of properties."""

import json
from collections.abc import Mapping, Sequence

import pytest
from pulumi_policy import EnforcementLevel

from guardrails import engine, offline, policy_config
from guardrails.pack import POLICIES
from tests.policies.engine_view import secret

ADVISORY, MANDATORY, DISABLED = (
    EnforcementLevel.ADVISORY,
    EnforcementLevel.MANDATORY,
    EnforcementLevel.DISABLED,
)


def resolve(raw):
    return policy_config.resolve_settings(POLICIES, raw, MANDATORY)


def test_without_a_config_every_policy_keeps_its_own_level_and_schema_defaults():
    settings = resolve({})
    assert {s.level for s in settings.values()} == {MANDATORY}
    # Integers arrive as floats, as after the CLI's protobuf Configure call.
    assert settings["aurora-backup-retention"].config == {"minimumDays": 7.0}


def test_all_sets_every_level_and_a_policy_entry_overrides_it():
    settings = resolve(
        {
            "all": "advisory",
            "aurora-backup-retention": {"enforcementLevel": "mandatory", "minimumDays": 14},
            "nlb-deletion-protection": "disabled",
            "required-tags": {"requiredTags": ["owner"]},
        }
    )
    assert settings["aurora-backup-retention"] == policy_config.PolicySettings(
        MANDATORY, {"minimumDays": 14.0}
    )
    assert settings["nlb-deletion-protection"].level == DISABLED
    assert settings["required-tags"] == policy_config.PolicySettings(
        ADVISORY, {"requiredTags": ["owner"]}
    )
    assert settings["eks-secrets-encryption"].level == ADVISORY
    assert resolve({"all": {"enforcementLevel": "advisory"}})["k8s-image-pinned"].level == ADVISORY


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"aurora-backups": "advisory"}, "unknown policies: aurora-backups"),
        ({"aurora-backup-retention": {"minimumDay": 3}}, "unknown setting(s) minimumDay"),
        ({"aurora-backup-retention": "strict"}, "enforcement level 'strict'"),
    ],
)
def test_typos_in_a_policy_config_are_refused(raw, expected):
    with pytest.raises(
        policy_config.PolicyConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")
    ):
        resolve(raw)


@pytest.mark.parametrize("path", sorted(offline.CONFIG_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_every_shipped_policy_config_is_valid(path):
    assert resolve(json.loads(path.read_text()))


def test_disabled_policies_do_not_run():
    view = engine.ResourceView(
        type="aws:sqs/queue:Queue",
        urn="urn:pulumi:t::p::aws:sqs/queue:Queue::q",
        name="q",
        inputs={},
        outputs={},
        parent=None,
        provider=None,
        dependencies=(),
    )
    found = engine.evaluate([view], POLICIES, resolve({}))
    assert {v.policy for v in found} >= {
        "sqs-queue-encrypted",
        "sqs-queue-has-dlq",
        "required-tags",
    }
    quiet = engine.evaluate([view], POLICIES, resolve({"all": "disabled"}))
    assert quiet == []


def test_props_arrive_in_the_engine_shape():
    props = engine.wire_props(
        {
            "backupRetentionPeriod": 7,
            "masterPassword": secret("pw"),
            "vpcConfig": {"publicAccessCidrs": ["10.0.0.0/8"]},
        }
    )
    assert props["backupRetentionPeriod"] == 7.0 and isinstance(
        props["backupRetentionPeriod"], float
    )
    assert props["masterPassword"] == "pw"
    assert isinstance(props, Mapping) and not isinstance(props, dict)
    cidrs = props["vpcConfig"]["publicAccessCidrs"]
    assert isinstance(cidrs, Sequence) and not isinstance(cidrs, list)


def test_default_providers_come_from_the_stack_config():
    config = {
        "aws:region": "eu-west-1",
        "aws:defaultTags": '{"tags": {"owner": "x"}}',
        "order-platform:imageTag": "0.1.0",
    }
    providers = offline.default_providers(config, "order-platform")
    assert providers == {"aws": {"region": "eu-west-1", "defaultTags": '{"tags": {"owner": "x"}}'}}
    subject = engine.Subject(
        type="aws:sqs/queue:Queue",
        name="q",
        urn="urn:pulumi:dev::order-platform::aws:sqs/queue:Queue::q",
        inputs={"sqsManagedSseEnabled": True},
        outputs={},
    )
    view = engine.engine_views([subject], providers)[0]
    assert view.provider.type == "pulumi:providers:aws"
    assert view.provider.urn == "urn:pulumi:dev::order-platform::pulumi:providers:aws::default"
    tags_found = [
        v for v in engine.evaluate([view], POLICIES, resolve({})) if v.policy == "required-tags"
    ]
    assert len(tags_found) == 1 and "environment, cost-center" in tags_found[0].message
