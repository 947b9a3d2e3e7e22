"""Who may reach whom, by the synthesized NetworkPolicies evaluated as Kubernetes would
(``tests.support.network_policies``): the collector scrapes every process's metrics port by a
rule that names it, and nothing else gets to a daemon's port but the kubelet."""

from __future__ import annotations

import ipaddress

import pytest

from infra.components import telemetry_pipeline as pipeline
from order_platform.processes import DEPLOYED, Kind
from tests.infra.helpers import config_value, deployments
from tests.support.network_policies import Cluster, Endpoint

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NAMESPACE = "kubernetes:core/v1:Namespace"
DAEMONS = tuple(p for p in DEPLOYED if p.kind is Kind.DAEMON)
COLLECTING = ("prod", "staging")


def _address(run, n: int) -> str:
    """The n-th address of the VPC's private half: pods and nodes share those subnets."""
    return str(ipaddress.ip_network(config_value(run, "vpcCidr"))[32768 + n])


def _cluster(run) -> Cluster:
    namespaces = {r.inputs["metadata"]["name"]: r.inputs["metadata"].get("labels", {})
                  for r in run.of_type(NAMESPACE)}
    return Cluster([r.inputs for r in run.of_type(NETWORK_POLICY)],
                   {"kube-system": {}, "default": {}, **namespaces})


def _pods(run) -> dict[str, Endpoint]:
    pods = {}
    for n, (role, deployment) in enumerate(sorted(deployments(run).items())):
        template = deployment.inputs["spec"]["template"]
        ports = {p["name"]: p["containerPort"] for c in template["spec"]["containers"]
                 for p in c.get("ports", [])}
        pods[role] = Endpoint(_address(run, 10 + n), deployment.inputs["metadata"]["namespace"],
                              template["metadata"]["labels"], ports, node_ip=_address(run, 1))
    return pods


def _collector(run) -> Endpoint:
    labels = {**pipeline.collector_pod_labels(),
              "app.kubernetes.io/name": f"{pipeline.NAME}{pipeline.SERVICE_SUFFIX}"}
    return Endpoint(_address(run, 50), pipeline.NAMESPACE, labels, node_ip=_address(run, 2))


def test_the_stacks_with_a_collector(stack_runs):
    assert tuple(s for s, r in stack_runs.items() if config_value(r, "collectorEnabled")) == (
        COLLECTING)


@pytest.mark.parametrize("stack", COLLECTING)
def test_the_collector_reaches_every_process_on_its_metrics_port(stack_runs, stack):
    run = stack_runs[stack]
    cluster, pods, collector = _cluster(run), _pods(run), _collector(run)
    for process in DEPLOYED:
        assert cluster.allows(collector, pods[process.role], process.probe_port), process.role


@pytest.mark.parametrize("stack", COLLECTING)
def test_every_process_reaches_the_collector_with_its_traces(stack_runs, stack):
    run = stack_runs[stack]
    cluster, pods, collector = _cluster(run), _pods(run), _collector(run)
    for process in DEPLOYED:
        assert cluster.allows(pods[process.role], collector, pipeline.OTLP_HTTP_PORT), process.role


def test_nothing_but_the_kubelet_and_the_collector_reaches_a_daemon(run):
    cluster, pods = _cluster(run), _pods(run)
    kubelet = Endpoint(_address(run, 1))
    strangers = [Endpoint(_address(run, 60), "default", {"app": "curious"}),
                 Endpoint(_address(run, 61), "kube-system", {"k8s-app": "kube-dns"}),
                 Endpoint(_address(run, 62)),  # some host of the VPC, not this pod's node
                 # the collector's labels, in the wrong namespace
                 Endpoint(_address(run, 63), "default", pipeline.collector_pod_labels()),
                 *(pods[p.role] for p in DEPLOYED)]
    for daemon in DAEMONS:
        target = pods[daemon.role]
        assert cluster.allows(kubelet, target, daemon.probe_port), daemon.role
        admitted = [s for s in strangers if s is not target
                    and cluster.allows(s, target, daemon.probe_port)]
        assert admitted == [], (daemon.role, admitted)


def test_the_apis_take_clients_from_anywhere(run):
    cluster, pods = _cluster(run), _pods(run)
    client = Endpoint("203.0.113.7")
    for api in (p for p in DEPLOYED if p.kind is Kind.API):
        assert cluster.allows(client, pods[api.role], api.probe_port), api.role
