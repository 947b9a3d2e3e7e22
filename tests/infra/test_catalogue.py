"""The Pulumi program follows the process catalogue (``order_platform.processes``).

Deployments, probes, grace periods, IRSA grants, NLB listeners and the HPA config keys are
all read from it; these fail when any of them drifts, and one edit of the catalogue is shown
to reach every one of them.
"""

from __future__ import annotations

import dataclasses

import pulumi
import pytest

from infra import capacity
from infra.components.cache import CLIENT_ROLES
from infra.config import StackConfigError, replica_keys
from infra.simulation import REPO_ROOT, read_yaml, run_stack, stack_names
from order_platform import processes
from order_platform.processes import DEPLOYED, MIGRATE, Grant, Kind, Resource
from tests.infra.helpers import as_list, deployments, document, one, pod_templates, prefix

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SECRET_SIDS = {"ReadDatabaseSecret", "DecryptDatabaseSecret"}


def container(deployment) -> dict:
    return deployment.inputs["spec"]["template"]["spec"]["containers"][0]


def grants_by_role(run) -> dict[str, dict[str, tuple[set, set]]]:
    """role -> Sid -> (actions, resources) of the statements beyond the DB secret."""
    parent = one(run, "order-platform:identity:ServiceIdentities").urn
    found = {}
    for role in (r for r in run.of_type(ROLE) if r.parent == parent):
        policy = next(p for p in run.of_type(ROLE_POLICY)
                      if p.inputs["role"] == role.outputs["name"])
        found[role.outputs["name"].removeprefix(f"{prefix(run)}-")] = {
            s["Sid"]: (set(as_list(s["Action"])), set(as_list(s["Resource"])))
            for s in document(policy)["Statement"] if s["Sid"] not in SECRET_SIDS}
    return found


def expected_grants(run, process) -> dict[str, tuple[set, set]]:
    queues = {q.outputs["name"]: q.outputs["arn"] for q in run.of_type("aws:sqs/queue:Queue")}
    bus = one(run, "aws:cloudwatch/eventBus:EventBus").outputs["arn"]
    resolved = {Resource.CONSUMED_QUEUES: {queues[q.name(prefix(run))] for q in process.consumes},
                Resource.EVENT_BUS: {bus}}
    expected = {g.sid: (set(g.actions), resolved[g.resource]) for g in process.grants}
    secrets = run.of_type("aws:secretsmanager/secret:Secret")
    if secrets and process.role in CLIENT_ROLES:
        cache = one(run, "order-platform:cache:Cache").urn
        key = next(k.outputs["arn"] for k in run.of_type("aws:kms/key:Key") if k.parent == cache)
        reads = {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
        expected["ReadCacheSecret"] = (reads, {secrets[0].outputs["arn"]})
        expected["DecryptCacheSecret"] = ({"kms:Decrypt"}, {key})
    return expected


def test_one_deployment_per_deployed_process_running_its_role(run):
    found = deployments(run)
    assert sorted(found) == sorted(p.role for p in DEPLOYED)
    for process in DEPLOYED:
        assert container(found[process.role])["args"] == [process.role]
    job = one(run, "kubernetes:batch/v1:Job")
    assert job.inputs["spec"]["template"]["spec"]["containers"][0]["args"] == [MIGRATE.role]


def test_ports_and_probe_paths_are_the_catalogues(run):
    for process in DEPLOYED:
        spec = container(deployments(run)[process.role])
        (port,) = spec["ports"]
        assert port["containerPort"] == process.probe_port
        assert spec["livenessProbe"]["httpGet"] == {"path": process.probes.liveness,
                                                    "port": port["name"]}
        assert spec["readinessProbe"]["httpGet"] == {"path": process.probes.readiness,
                                                     "port": port["name"]}
        assert spec["startupProbe"]["httpGet"]["path"] == process.probes.liveness


def test_every_pod_outlives_its_process_shutdown_grace(run):
    by_role = {p.role: p for p in (*DEPLOYED, MIGRATE)}
    for name, pod in pod_templates(run).items():
        process = by_role[pod["containers"][0]["args"][0]]
        grace = pod["terminationGracePeriodSeconds"]
        assert grace == process.termination_grace_seconds, name
        assert grace > process.shutdown_grace_seconds, name


def test_each_process_in_the_cluster_has_exactly_its_grants(run):
    found = grants_by_role(run)
    assert set(found) == {p.role for p in (*DEPLOYED, MIGRATE)}
    for process in (*DEPLOYED, MIGRATE):
        assert found[process.role] == expected_grants(run, process), process.role


def test_the_nlb_listens_on_the_api_ports(run):
    ports = {listener.inputs["port"] for listener in run.of_type("aws:lb/listener:Listener")}
    assert ports == {p.port for p in DEPLOYED if p.kind is Kind.API}


def test_hpa_config_keys_are_the_deployed_processes():
    schema = read_yaml(REPO_ROOT / "Pulumi.yaml")["config"]
    expected = {key for p in DEPLOYED for key in replica_keys(p.role)}
    assert {k for k in schema if k.endswith("Replicas")} == expected
    for stack in stack_names():
        config = read_yaml(REPO_ROOT / f"Pulumi.{stack}.yaml")["config"]
        assert {k.split(":")[1] for k in config if k.endswith("Replicas")} == expected, stack


def test_every_process_in_the_cluster_has_a_pod_size():
    assert {p.role for p in (*DEPLOYED, MIGRATE)} <= set(capacity.POD_SIZES)


@pytest.fixture
def edited_catalogue(monkeypatch):
    """One edit of the catalogue, as a change to processes.py would make it."""
    worker = dataclasses.replace(
        processes.WORKER, shutdown_grace_seconds=40, health_port=9191,
        probes=processes.Probes(liveness="/live", readiness="/ready"))
    write_api = dataclasses.replace(
        processes.WRITE_API, port=3100,
        grants=(Grant("PublishToBus", ("events:PutEvents",), Resource.EVENT_BUS),))
    auditor = processes.Process(role="auditor", kind=Kind.DAEMON, description="new",
                                entry="order_platform.entrypoints.worker", health_port=9292)
    roles = {**processes.PROCESSES, "worker": worker, "write-api": write_api, "auditor": auditor}
    monkeypatch.setattr(processes, "PROCESSES", roles)
    monkeypatch.setattr(processes, "DEPLOYED", tuple(p for p in roles.values() if p.deployed))
    monkeypatch.setitem(capacity.POD_SIZES, "auditor", capacity.POD_SIZES["worker"])
    return {"auditorMinReplicas": 1, "auditorMaxReplicas": 1}


def test_one_edit_in_the_catalogue_reaches_the_program(edited_catalogue):
    run = run_stack("dev", edited_catalogue)
    found = deployments(run)
    assert sorted(found) == ["auditor", "read-api", "relay", "worker", "write-api"]
    worker = container(found["worker"])
    assert worker["ports"][0]["containerPort"] == 9191
    assert worker["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert found["worker"].inputs["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"] == 45
    assert container(found["write-api"])["ports"][0]["containerPort"] == 3100
    assert {li.inputs["port"] for li in run.of_type("aws:lb/listener:Listener")} == {3100, 3001}
    grants = grants_by_role(run)
    assert grants["write-api"]["PublishToBus"][0] == {"events:PutEvents"}
    assert grants["auditor"] == {}


def test_a_new_process_needs_its_replica_keys_and_a_size(edited_catalogue, monkeypatch):
    with pytest.raises(pulumi.ConfigMissingError, match="auditorMinReplicas"):
        run_stack("dev")
    monkeypatch.delitem(capacity.POD_SIZES, "auditor")
    with pytest.raises(StackConfigError, match="POD_SIZES"):
        run_stack("dev", edited_catalogue)
