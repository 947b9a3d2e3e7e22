"""The program as a whole: providers, tags, naming, config validation, the harness itself."""

from __future__ import annotations

import json

import pytest

from infra.config import StackConfigError
from infra.kubernetes_versions import DEFAULT_VERSION
from infra.simulation import project_name, run_stack, stack_config, stack_names
from tests.infra.helpers import config_value, one, stack_provider

TAG_KEYS = {"environment", "owner", "cost-center"}


def test_every_environment_has_a_stack_file():
    assert stack_names() == ["dev", "prod", "staging"]
    assert project_name() == "order-platform"


def test_every_aws_resource_uses_the_tagging_provider(run):
    provider = stack_provider(run)
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    assert set(tags) == TAG_KEYS
    assert tags["environment"] == run.stack
    assert tags["cost-center"] == config_value(run, "costCenter")
    provider_ref = f"{provider.urn}::{provider.id}"
    # The backup copies' region has a provider of its own, with the same tags.
    others = {f"{p.urn}::{p.id}": p for p in run.of_type("pulumi:providers:aws") if p != provider}
    assert all(json.loads(p.inputs["defaultTags"])["tags"] == tags
               and p.inputs["region"] == config_value(run, "dbBackupCopyRegion")
               for p in others.values())
    aws_resources = [r for r in run.resources if r.type.startswith("aws:")]
    assert aws_resources
    for resource in aws_resources:
        assert resource.provider == provider_ref or (
            resource.provider in others and resource.name.endswith(("-backup-copy-vault",
                                                                     "-backup-copy-key"))), (
            f"{resource.type} {resource.name}")


def test_every_kubernetes_object_uses_the_cluster_provider(run):
    provider = one(run, "pulumi:providers:kubernetes")
    for resource in run.resources:
        if resource.type.startswith("kubernetes:"):
            assert resource.provider == f"{provider.urn}::{provider.id}"


def test_children_are_parented_to_components_and_named_from_them(run):
    components = {r.urn: r for r in run.resources if r.type.startswith("order-platform:")}
    optional = {"cache": "cacheEnabled", "collector": "collectorEnabled",
                "backup": "dbBackupCopyRegion"}
    assert {c.type.split(":")[1] for c in components.values()} == {
        "network", "cluster", "database", "messaging", "loadbalancer", "registry", "identity",
        "nodes", "workloads", "logs", "monitoring", "userpool",
        *(kind for kind, key in optional.items() if config_value(run, key)),
        *(["certificate"] if config_value(run, "apiTls").get("enabled", True) else [])}
    for resource in run.resources:
        if resource.type.startswith(("aws:", "kubernetes:")):
            assert resource.parent in components, f"{resource.type} {resource.name} is top-level"
            assert resource.name.startswith(components[resource.parent].name)


def test_logical_names_are_unique_per_type(run):
    seen = [(r.type, r.name) for r in run.resources]
    assert len(seen) == len(set(seen))


def test_resource_prefix_is_project_and_stack(run):
    assert one(run, "aws:eks/cluster:Cluster").inputs["name"] == f"order-platform-{run.stack}"


@pytest.mark.parametrize("override", [
    {"imageTag": "latest"},
    {"clusterPublicAccessCidrs": ["0.0.0.0/0"]},
    {"natStrategy": "sometimes"},
    {"nlbAllowedCidrs": ["not-a-cidr"]},
])
def test_unsafe_prod_config_is_refused(override):
    with pytest.raises(StackConfigError):
        run_stack("prod", override)


def test_stack_config_layers_defaults_stack_file_and_overrides():
    config = stack_config("dev", {"logRetentionDays": 3, "aws:region": "us-east-2"})
    assert config["order-platform:kubernetesVersion"] == DEFAULT_VERSION  # project default
    assert config["order-platform:natStrategy"] == "single"          # stack file
    assert config["order-platform:logRetentionDays"] == "3"          # override
    assert config["aws:region"] == "us-east-2"


def test_runs_are_repeatable_in_one_process(stack_runs):
    again = run_stack("dev")
    first = stack_runs["dev"]
    # Registration order varies (the engine registers concurrently); the set must not.
    assert sorted((r.type, r.name) for r in again.resources) == sorted(
        (r.type, r.name) for r in first.resources)
    assert again.outputs == first.outputs
