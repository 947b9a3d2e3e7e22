"""People: who reaches the Kubernetes API is stack config, one access entry per role, in state."""

from __future__ import annotations

import pytest

from infra.components.cluster import CLUSTER_ADMIN_POLICY, VIEW_POLICY
from infra.config import StackConfigError
from infra.mock_cloud import CALLER_ROLE
from infra.simulation import run_stack
from tests.infra.helpers import config_value, one

ENTRY = "aws:eks/accessEntry:AccessEntry"
ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
DEPLOYER = "arn:aws:iam::111122223333:role/ci-deployer"
ONCALL = "arn:aws:iam::111122223333:role/oncall"


def people(run) -> dict[str, tuple[str, str]]:
    """principal -> (entry type, access policy) for the cluster's STANDARD entries."""
    entries = {e.inputs["principalArn"]: e for e in run.of_type(ENTRY)
               if e.inputs["type"] == "STANDARD"}
    policies = {a.inputs["principalArn"]: a for a in run.of_type(ASSOCIATION)}
    assert entries.keys() == policies.keys()
    for principal, association in policies.items():
        assert association.inputs["accessScope"] == {"type": "cluster"}
        assert association.depends_on(entries[principal])
    return {p: (entries[p].inputs["type"], policies[p].inputs["policyArn"]) for p in entries}


def test_every_configured_role_and_nobody_else_has_an_entry(run):
    expected = {arn: ("STANDARD", CLUSTER_ADMIN_POLICY)
                for key in ("clusterDeployerRoleArns", "clusterAdminRoleArns")
                for arn in config_value(run, key)}
    expected |= {arn: ("STANDARD", VIEW_POLICY)
                 for arn in config_value(run, "clusterViewerRoleArns")}
    assert config_value(run, "clusterDeployerRoleArns")
    assert people(run) == expected
    cluster = one(run, "aws:eks/cluster:Cluster")
    assert cluster.inputs["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is False


def test_ci_and_colleagues_are_config():
    run = run_stack("staging", {"clusterDeployerRoleArns": [DEPLOYER],
                                "clusterAdminRoleArns": [ONCALL],
                                "clusterViewerRoleArns": [CALLER_ROLE]})
    assert people(run) == {DEPLOYER: ("STANDARD", CLUSTER_ADMIN_POLICY),
                           ONCALL: ("STANDARD", CLUSTER_ADMIN_POLICY),
                           CALLER_ROLE: ("STANDARD", VIEW_POLICY)}


def test_entries_are_named_by_role_so_reordering_moves_nothing():
    roles = [DEPLOYER, ONCALL]
    first = run_stack("dev", {"clusterDeployerRoleArns": roles})
    second = run_stack("dev", {"clusterDeployerRoleArns": roles[::-1]})

    def names(run):
        return {e.inputs["principalArn"]: e.name for e in run.of_type(ENTRY)}
    assert names(first) == names(second)


def test_entries_once_named_by_position_keep_their_state():
    run = run_stack("dev", {"clusterAdminRoleArns": [ONCALL]})
    entry = next(e for e in run.of_type(ENTRY) if e.inputs["principalArn"] == ONCALL)
    association = next(a for a in run.of_type(ASSOCIATION) if a.inputs["principalArn"] == ONCALL)
    assert entry.aliases == association.aliases == ("order-platform-dev-admin-0",)


@pytest.mark.parametrize("override", [
    {"clusterDeployerRoleArns": []},
    {"clusterDeployerRoleArns": ["arn:aws:sts::111122223333:assumed-role/ci/session"]},
    {"clusterDeployerRoleArns": [DEPLOYER], "clusterAdminRoleArns": [DEPLOYER]},
])
def test_unusable_access_settings_are_refused(override):
    with pytest.raises(StackConfigError):
        run_stack("dev", override)


def test_deploying_as_a_role_without_an_entry_warns(caplog):
    run_stack("dev", caller_role=CALLER_ROLE)  # not among the stack file's roles
    assert f"{CALLER_ROLE} is not in clusterDeployerRoleArns" in caplog.text
    caplog.clear()
    run_stack("dev", {"clusterDeployerRoleArns": [CALLER_ROLE]}, caller_role=CALLER_ROLE)
    run_stack("dev")  # the stack file's first deployer runs it
    assert "is not in clusterDeployerRoleArns" not in caplog.text
