"""Every Kubernetes object is valid for the cluster version, strictly, and locked down."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from order_platform.processes import DEPLOYED
from tests.infra.helpers import config_value, deployments, k8s_named, k8s_objects, pod_templates

RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted"
              for mode in ("enforce", "audit", "warn")}


def schema_version(run) -> str:
    return f"{config_value(run, 'kubernetesVersion')}.0"


def manifest(resource) -> dict:
    """The object as it would be applied (the engine's inputs are the manifest)."""
    return copy.deepcopy(resource.inputs)


def test_every_object_is_valid_against_the_cluster_schema_strictly(run):
    objects = k8s_objects(run)
    assert len(objects) >= 30
    for resource in objects:
        used = kubernetes_validate.validate(manifest(resource), schema_version(run), strict=True)
        # validate() silently falls back to an older schema; insist on the cluster's own.
        assert used == config_value(run, "kubernetesVersion")


def test_the_validator_rejects_unknown_fields(run):
    # Guards the guard: strict mode must fail on a typo, or the test above proves nothing.
    bad = manifest(deployments(run)["write-api"])
    bad["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, schema_version(run), strict=True)


def test_the_cluster_version_has_a_schema(run):
    assert schema_version(run) in kubernetes_validate.utils.all_versions()


def test_namespace_enforces_restricted_pod_security(run):
    namespace = next(r for r in k8s_objects(run) if r.inputs["kind"] == "Namespace")
    assert RESTRICTED.items() <= namespace.inputs["metadata"]["labels"].items()
    for resource in k8s_objects(run):
        if resource.inputs["kind"] != "Namespace":
            assert resource.inputs["metadata"]["namespace"] == namespace.inputs["metadata"]["name"]


@pytest.mark.parametrize("workload", ["write-api", "read-api", "worker", "relay", "db-migrate"])
def test_pod_security_context(run, workload):
    pods = pod_templates(run)
    name = next(n for n in pods if n == workload or n.startswith(f"{workload}-"))
    pod = pods[name]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"]:
        ctx = container["securityContext"]
        assert ctx["runAsNonRoot"] is True
        assert ctx["runAsUser"] > 0
        assert ctx["readOnlyRootFilesystem"] is True
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["capabilities"] == {"drop": ["ALL"]}
        assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert not container["image"].endswith(":latest")


def test_deployments_spread_across_zones_and_nodes(run):
    for name, deployment in deployments(run).items():
        spec = deployment.inputs["spec"]["template"]["spec"]
        keys = {c["topologyKey"] for c in spec["topologySpreadConstraints"]}
        assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}, name
        for constraint in spec["topologySpreadConstraints"]:
            assert constraint["labelSelector"]["matchLabels"] == deployment.inputs["spec"][
                "selector"]["matchLabels"]


def test_every_deployment_has_an_hpa_with_the_stack_bounds(run, stack_file):
    for name in deployments(run):
        hpa = k8s_named(run, "HorizontalPodAutoscaler", name).inputs["spec"]
        stem = name.split("-")[0] + "".join(p.capitalize() for p in name.split("-")[1:])
        assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                         "name": name}
        assert hpa["minReplicas"] == stack_file[f"{stem}MinReplicas"]
        assert hpa["maxReplicas"] == stack_file[f"{stem}MaxReplicas"]


def test_read_api_scales_independently(stack_runs):
    prod = stack_runs["prod"]
    read = k8s_named(prod, "HorizontalPodAutoscaler", "read-api").inputs["spec"]
    write = k8s_named(prod, "HorizontalPodAutoscaler", "write-api").inputs["spec"]
    assert read["maxReplicas"] > write["maxReplicas"]


def test_every_deployment_has_a_pdb(run):
    for name, deployment in deployments(run).items():
        pdb = k8s_named(run, "PodDisruptionBudget", name).inputs["spec"]
        assert pdb["selector"] == deployment.inputs["spec"]["selector"]
        assert pdb["maxUnavailable"] == 1


def test_network_policies_deny_by_default_and_allow_what_is_needed(run):
    policies = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in k8s_objects(run)
                if r.inputs["kind"] == "NetworkPolicy"}
    deny = policies["default-deny"]
    assert deny["podSelector"] == {}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    ports = {p["port"] for p in policies["allow-dns"]["egress"][0]["ports"]}
    assert ports == {53}
    db_rule = policies["allow-database"]["egress"][0]
    assert [p["port"] for p in db_rule["ports"]] == [5432]
    assert all("/" in peer["ipBlock"]["cidr"] for peer in db_rule["to"])
    assert "0.0.0.0/0" not in {peer["ipBlock"]["cidr"] for peer in db_rule["to"]}
    for name, port in ((p.role, p.probe_port) for p in DEPLOYED):
        ingress = policies[f"{name}-ingress"]
        assert ingress["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == name
        assert all([p["port"] for p in rule["ports"]] == [port] for rule in ingress["ingress"])
    # The daemons take no client traffic: every rule names its sources (who exactly is
    # tests/infra/test_pod_traffic.py's business).
    assert all(rule["from"] for rule in policies["worker-ingress"]["ingress"])


def test_api_services_are_node_ports_not_load_balancers(run):
    for resource in k8s_objects(run):
        if resource.inputs["kind"] == "Service":
            spec = resource.inputs["spec"]
            assert spec["type"] == "NodePort"
            assert not resource.inputs["metadata"].get("annotations")
