"""The pack itself: importable without a server, the same list the CLI builds, well-formed rules."""

import importlib.util
import re
import runpy
import sys
from pathlib import Path

import pulumi_policy
import pytest
from pulumi_policy import EnforcementLevel, StackValidationPolicy

from guardrails import tags
from guardrails.pack import DEFAULT_ENFORCEMENT, PACK_NAME, POLICIES, policy_names
from tests.policies.conftest import POLICIES_DIR

EXPECTED = [
    "aurora-storage-encrypted", "aurora-not-publicly-accessible", "aurora-backup-retention",
    "aurora-deletion-protection", "aurora-multi-az-readers", "aurora-log-exports",
    "aurora-managed-master-password", "aurora-enhanced-monitoring",
    "eks-secrets-encryption", "eks-control-plane-logging", "eks-public-endpoint-restricted",
    "eks-supported-version", "eks-nodes-in-private-subnets",
    "sqs-queue-encrypted", "sqs-queue-has-dlq", "sqs-dlq-retention", "sqs-queue-policy-source-arn",
    "eventbridge-target-dlq", "eventbridge-targeted-queue-has-dlq", "sqs-dlq-has-alarm",
    "sqs-queue-has-widget-and-alarm",
    "elasticache-encryption-in-transit", "elasticache-encryption-at-rest",
    "elasticache-auth-required", "elasticache-private-subnets", "elasticache-automatic-failover",
    "security-group-no-public-ingress", "iam-no-wildcard-admin", "ecr-scan-on-push",
    "ecr-immutable-tags", "nlb-deletion-protection", "nlb-listener-tls",
    "vpc-default-security-group-closed",
    "cloudwatch-log-group-kms", "required-tags",
    "k8s-resource-requests-and-limits", "k8s-run-as-non-root", "k8s-read-only-root-filesystem",
    "k8s-no-privilege-escalation", "k8s-drop-all-capabilities", "k8s-seccomp-runtime-default",
    "k8s-liveness-and-readiness-probes", "k8s-image-pinned", "k8s-image-digest",
    "k8s-run-as-high-uid", "k8s-explicit-pull-policy", "k8s-no-default-namespace",
    "k8s-no-host-network-or-path", "k8s-no-load-balancer-service",
    "k8s-deployment-has-pdb", "k8s-deployment-has-network-policy",
]  # fmt: skip
STACK_LEVEL = {
    "aurora-multi-az-readers", "eks-nodes-in-private-subnets", "sqs-queue-has-dlq",
    "sqs-dlq-retention", "eventbridge-targeted-queue-has-dlq", "sqs-dlq-has-alarm",
    "sqs-queue-has-widget-and-alarm", "elasticache-private-subnets", "k8s-deployment-has-pdb",
    "k8s-deployment-has-network-policy", "vpc-default-security-group-closed",
}  # fmt: skip


class RecordingPack:
    """Stands in for ``PolicyPack``, whose constructor would serve forever."""

    built: list = []

    def __init__(self, **kwargs):
        RecordingPack.built.append(kwargs)


@pytest.fixture
def recorded(monkeypatch):
    RecordingPack.built = []
    monkeypatch.setattr(pulumi_policy, "PolicyPack", RecordingPack)
    return RecordingPack.built


def test_the_pack_lists_every_rule_the_issue_asks_for():
    # A new rule must be added here, which is the reminder to give it tests both ways.
    assert policy_names() == EXPECTED
    assert {p.name for p in POLICIES if isinstance(p, StackValidationPolicy)} == STACK_LEVEL


def test_importing_main_py_under_another_name_defines_serve_and_starts_nothing(recorded):
    spec = importlib.util.spec_from_file_location("pack_entry", POLICIES_DIR / "__main__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # without the __main__ guard this would build (and serve)
    assert recorded == []
    module.serve()
    assert len(recorded) == 1
    assert recorded[0]["policies"] == POLICIES
    assert recorded[0]["name"] == PACK_NAME


def test_the_cli_entry_path_builds_the_same_pack(recorded):
    # `pulumi-analyzer-policy-python` runs `python -m pulumi.policy <engine> <pack dir>`, which
    # does exactly this: run the directory's __main__.py as __main__ with the dir on sys.path.
    path_before = list(sys.path)
    runpy.run_path(str(POLICIES_DIR), run_name="__main__")
    assert sys.path == path_before
    assert len(recorded) == 1
    built = recorded[0]
    assert [p.name for p in built["policies"]] == EXPECTED
    assert built["enforcement_level"] is DEFAULT_ENFORCEMENT is EnforcementLevel.MANDATORY
    assert built["description"]


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_each_rule_is_well_formed(policy):
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", policy.name)
    assert policy.description.endswith(".") and len(policy.description) > 20
    assert isinstance(policy.enforcement_level, EnforcementLevel)
    schema = policy.config_schema.properties if policy.config_schema else {}
    for key, spec in schema.items():
        assert spec.get("description"), key
        assert "default" in spec, key
        kind = {"integer": int, "boolean": bool, "array": list, "string": str}[spec["type"]]
        assert isinstance(spec["default"], kind), key


def test_the_taggable_types_file_matches_the_installed_aws_sdk():
    import pulumi_aws

    generated = tags.generate_taggable_types(Path(pulumi_aws.__file__).parent)
    assert len(generated) > 500
    assert set(generated) == tags.taggable_types(), (
        "regenerate: python -m guardrails.tags > policies/guardrails/aws_taggable_types.txt"
    )
    assert "aws:sqs/queue:Queue" in generated and "aws:ec2/route:Route" not in generated


def test_the_pack_requirements_and_metadata_are_present():
    requirements = (POLICIES_DIR / "requirements.txt").read_text()
    assert "pulumi-policy" in requirements
    manifest = (POLICIES_DIR / "PulumiPolicy.yaml").read_text()
    assert "name: python" in manifest and "version:" in manifest
