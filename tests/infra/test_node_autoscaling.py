"""Karpenter: valid custom resources, a pinned chart, least-privilege IRSA, interruptions heard."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from infra import accepted_values
from infra import kubernetes_versions as versions
from infra.components import node_autoscaling as karpenter
from tests.infra.helpers import as_list, document, one, prefix, stack_provider

SCHEMAS = Path(__file__).parent / "schemas"
RELEASE = "kubernetes:helm.sh/v3:Release"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
MUTATING_PREFIXES = ("ec2:Run", "ec2:Create", "ec2:Terminate", "ec2:Delete", "iam:Pass")


def crd_schemas() -> dict:
    """The vendored openAPIV3Schema of each Karpenter kind, for the pinned chart version."""
    path = SCHEMAS / f"karpenter-{versions.KARPENTER_CHART}.json"
    assert path.exists(), f"vendor the CRD schemas of chart {versions.KARPENTER_CHART}"
    return json.loads(path.read_text())["kinds"]


def unknown_fields(value, schema: dict, path: str = "") -> list[str]:
    """Fields the API server would reject (structural schemas have no extra properties)."""
    if isinstance(value, dict) and "properties" in schema:
        found = []
        for key, item in value.items():
            if key not in schema["properties"]:
                found.append(f"{path}.{key}")
            else:
                found += unknown_fields(item, schema["properties"][key], f"{path}.{key}")
        return found
    if isinstance(value, list) and "items" in schema:
        return [f for i, item in enumerate(value)
                for f in unknown_fields(item, schema["items"], f"{path}[{i}]")]
    return []


def manifest(resource) -> dict:
    """The object as applied, as a copy: the session's simulated runs are shared, so a test that
    edits a manifest (a typo to reject) must not edit the run every later test reads."""
    return copy.deepcopy(
        {key: resource.inputs[key] for key in ("apiVersion", "kind", "metadata", "spec")})


@pytest.mark.parametrize("type_token", [NODE_CLASS, NODE_POOL])
def test_custom_resources_are_valid_against_the_charts_crds(run, type_token):
    resource = one(run, type_token)
    crd = crd_schemas()[resource.inputs["kind"]]
    assert resource.inputs["apiVersion"] == crd["apiVersion"]
    assert crd["scope"] == "Cluster" and "namespace" not in resource.inputs["metadata"]
    jsonschema.validate(manifest(resource), crd["schema"])
    assert unknown_fields(manifest(resource), crd["schema"]) == []


def test_the_schema_check_rejects_a_typo(run):
    bad = manifest(one(run, NODE_POOL))
    bad["spec"]["disruption"]["consolidateAfterr"] = "5m"
    bad["spec"]["limits"] = {"cpu": 12}
    schema = crd_schemas()["NodePool"]["schema"]
    assert unknown_fields(bad, schema) == [".spec.disruption.consolidateAfterr"]
    bad["spec"]["disruption"]["consolidationPolicy"] = "Sometimes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_the_controller_and_its_crds_come_from_one_pinned_chart_version(run):
    releases = {r.inputs["name"]: r.inputs for r in run.of_type(RELEASE)}
    assert set(releases) == {"karpenter", "karpenter-crd"}
    for release in releases.values():
        assert release["version"] == versions.KARPENTER_CHART
        assert release["chart"].startswith("oci://public.ecr.aws/karpenter/")
        assert release["namespace"] == karpenter.NAMESPACE
    assert releases["karpenter"]["skipCrds"] is True, "the CRD chart owns (and upgrades) them"


def test_every_supported_kubernetes_version_is_in_karpenters_range():
    low, high = (tuple(map(int, v.split("."))) for v in versions.KARPENTER_RANGE)
    for version in accepted_values.KUBERNETES_VERSIONS:
        assert low <= tuple(map(int, version.split("."))) <= high, version
        assert versions.release(version).karpenter_chart == versions.KARPENTER_CHART, version


def test_the_controller_is_told_its_cluster_queue_and_role(run):
    values = next(r.inputs["values"] for r in run.of_type(RELEASE)
                  if r.inputs["name"] == "karpenter")
    queue = next(q for q in run.of_type("aws:sqs/queue:Queue")
                 if q.outputs["name"] == karpenter.interruption_queue_name(prefix(run)))
    assert values["settings"] == {"clusterName": prefix(run),
                                  "interruptionQueue": queue.outputs["name"]}
    role = controller_role(run)
    assert values["serviceAccount"] == {
        "name": "karpenter", "annotations": {"eks.amazonaws.com/role-arn": role.outputs["arn"]}}


def controller_role(run):
    return next(r for r in run.of_type("aws:iam/role:Role") if r.name.endswith("-controller"))


def test_the_controller_role_is_trusted_only_by_its_service_account(run):
    (statement,) = document(controller_role(run), "assumeRolePolicy")["Statement"]
    issuer = one(run, "aws:iam/openIdConnectProvider:OpenIdConnectProvider").outputs["url"]
    host = issuer.removeprefix("https://")
    assert statement["Condition"]["StringEquals"] == {
        f"{host}:sub": "system:serviceaccount:kube-system:karpenter",
        f"{host}:aud": "sts.amazonaws.com"}


def test_the_controller_may_only_launch_tag_and_end_its_own_nodes(run):
    role = controller_role(run)
    policy = next(p for p in run.of_type("aws:iam/rolePolicy:RolePolicy")
                  if p.inputs["role"] == role.outputs["name"])
    node_role = next(r for r in run.of_type("aws:iam/role:Role") if r.name.endswith(
        "-karpenter-node"))
    cluster_tag = f"kubernetes.io/cluster/{prefix(run)}"
    for statement in document(policy)["Statement"]:
        actions, resources = as_list(statement["Action"]), as_list(statement["Resource"])
        assert statement["Effect"] == "Allow" and "*" not in actions
        if resources == ["*"]:
            assert all(a.split(":")[1].startswith(("Describe", "Get", "List")) for a in actions), \
                statement["Sid"]
        if any(a.startswith(MUTATING_PREFIXES) for a in actions) and statement["Sid"] not in (
                "LaunchIntoThisRegion", "PassNodeRoleToEc2"):
            assert cluster_tag in json.dumps(statement.get("Condition")), statement["Sid"]
        if "iam:PassRole" in actions:
            assert resources == [node_role.outputs["arn"]]
        if any(a.startswith("sqs:") for a in actions):
            assert [r.split(":")[-1] for r in resources] == [
                karpenter.interruption_queue_name(prefix(run))]


def test_interruption_notices_reach_the_queue_and_failures_are_alarmed(run):
    queues = {q.outputs["name"]: q for q in run.of_type("aws:sqs/queue:Queue")}
    name = karpenter.interruption_queue_name(prefix(run))
    queue, dlq = queues[name], queues[f"{name}-dlq"]
    assert json.loads(queue.inputs["redrivePolicy"])["deadLetterTargetArn"] == dlq.outputs["arn"]
    assert queue.inputs["sqsManagedSseEnabled"] is True
    targets = [t for t in run.of_type("aws:cloudwatch/eventTarget:EventTarget")
               if t.inputs["arn"] == queue.outputs["arn"]]
    patterns = {r.outputs["name"]: json.loads(r.inputs["eventPattern"])
                for r in run.of_type("aws:cloudwatch/eventRule:EventRule")}
    assert {patterns[t.inputs["rule"]]["detail-type"][0] for t in targets} == {
        detail for _, detail in karpenter.INTERRUPTION_EVENTS.values()}
    assert all(t.inputs["deadLetterConfig"] == {"arn": dlq.outputs["arn"]} for t in targets)
    alarms = run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    on_dlq = [a for a in alarms if a.inputs.get("dimensions") == {"QueueName": dlq.outputs["name"]}]
    assert len(on_dlq) == 1
    on_queue = [a for a in alarms
                if a.inputs.get("dimensions") == {"QueueName": queue.outputs["name"]}]
    assert [(a.inputs["metricName"], a.inputs["threshold"]) for a in on_queue] == [
        ("ApproximateAgeOfOldestMessage", karpenter.INTERRUPTION_AGE_ALARM_SECONDS)]
    assert karpenter.INTERRUPTION_AGE_ALARM_SECONDS < karpenter.INTERRUPTION_RETENTION_SECONDS


def test_nodes_join_like_the_system_nodes_and_keep_pods_off_their_role(run):
    spec = one(run, NODE_CLASS).inputs["spec"]
    cluster_sg = one(run, "aws:eks/cluster:Cluster").outputs["vpcConfig"]["clusterSecurityGroupId"]
    private = {s.id for s in run.of_type("aws:ec2/subnet:Subnet")
               if s.inputs["tags"]["tier"] == "private"}
    assert spec["securityGroupSelectorTerms"] == [{"id": cluster_sg}]
    assert {t["id"] for t in spec["subnetSelectorTerms"]} == private
    assert spec["metadataOptions"]["httpTokens"] == "required"
    assert spec["metadataOptions"]["httpPutResponseHopLimit"] == 1
    assert all(m["ebs"]["encrypted"] for m in spec["blockDeviceMappings"])
    profile = one(run, "aws:iam/instanceProfile:InstanceProfile")
    assert spec["instanceProfile"] == profile.outputs["name"]
    node_role_arn = next(r.outputs["arn"] for r in run.of_type("aws:iam/role:Role")
                         if r.outputs["name"] == profile.inputs["role"])
    entries = [e.inputs for e in run.of_type("aws:eks/accessEntry:AccessEntry")
               if e.inputs["principalArn"] == node_role_arn]
    assert [e["type"] for e in entries] == ["EC2_LINUX"]
    tags = json.loads(stack_provider(run).inputs["defaultTags"])["tags"]
    assert spec["tags"] == tags, "Karpenter's instances carry the cost tags too"
