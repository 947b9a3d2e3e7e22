"""Scale: the nodes Karpenter may launch hold every HPA at its maximum, during a release.

The demand is read from the objects the program builds (HPA maxima, container requests,
maxSurge, the migration Job), the supply from the NodePool (its instance types and CPU
limit) with the per-node overhead of ``infra/capacity.py``.
"""

from __future__ import annotations

import math

import pytest

from infra import capacity
from infra.config import StackConfigError
from infra.simulation import run_stack
from tests.infra.helpers import config_value, deployments, k8s_named, one

NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"


def requests_of(pod_spec: dict) -> capacity.Room:
    requests = pod_spec["containers"][0]["resources"]["requests"]
    return capacity.Room(capacity.cpu_millis(requests["cpu"]),
                         capacity.memory_mib(requests["memory"]))


def release_pods(run) -> list[capacity.Room]:
    """Every pod at the HPA maxima with each rollout's surge, plus the migration Job's."""
    pods = []
    for name, deployment in deployments(run).items():
        maximum = k8s_named(run, "HorizontalPodAutoscaler", name).inputs["spec"]["maxReplicas"]
        spec = deployment.inputs["spec"]
        percent = int(spec["strategy"]["rollingUpdate"]["maxSurge"].rstrip("%"))
        pods += [requests_of(spec["template"]["spec"])] * (
            maximum + math.ceil(maximum * percent / 100))
    job = one(run, "kubernetes:batch/v1:Job").inputs["spec"]["template"]["spec"]
    return [*pods, requests_of(job)]


def pool_supply(run) -> tuple[int, capacity.InstanceShape]:
    """How many nodes the NodePool's limits buy, and of which shape."""
    spec = one(run, NODE_POOL).inputs["spec"]
    types = next(r["values"] for r in spec["template"]["spec"]["requirements"]
                 if r["key"] == "node.kubernetes.io/instance-type")
    shapes = {capacity.INSTANCE_SHAPES[t] for t in types}
    assert len(shapes) == 1, "one shape, so the limits are a node count"
    (shape,) = shapes
    nodes = capacity.cpu_millis(spec["limits"]["cpu"]) // shape.cpu_millis
    assert capacity.memory_mib(spec["limits"]["memory"]) >= nodes * shape.memory_mib
    return nodes, shape


def test_prod_schedules_every_replica_of_every_hpa_at_its_maximum(stack_runs):
    run = stack_runs["prod"]
    nodes, shape = pool_supply(run)
    needed = capacity.nodes_needed(release_pods(run), capacity.schedulable(shape))
    assert needed <= nodes, f"prod needs {needed} nodes at the HPA maxima, the pool has {nodes}"
    assert len(release_pods(run)) > 50  # the maxima of prod, not a token load


def test_every_stack_schedules_its_hpa_maxima(run):
    nodes, shape = pool_supply(run)
    assert capacity.nodes_needed(release_pods(run), capacity.schedulable(shape)) <= nodes
    assert nodes == config_value(run, "nodePoolMaxNodes")


def test_the_check_fails_when_the_maxima_outgrow_the_pool(stack_runs):
    # The same check against a prod whose read API may grow to 60 replicas: the pool is short.
    run = stack_runs["prod"]
    nodes, shape = pool_supply(run)
    grown = [*release_pods(run), *[capacity.Room(250, 256)] * 50]
    assert capacity.nodes_needed(grown, capacity.schedulable(shape)) > nodes


def test_config_refuses_maxima_the_pool_cannot_hold():
    with pytest.raises(StackConfigError, match="nodePoolMaxNodes"):
        run_stack("prod", {"readApiMaxReplicas": 60})
    run_stack("prod", {"readApiMaxReplicas": 60, "nodePoolMaxNodes": 9})


def test_the_pool_launches_only_nodes_the_image_runs_on(run):
    requirements = {r["key"]: r for r in
                    one(run, NODE_POOL).inputs["spec"]["template"]["spec"]["requirements"]}
    assert requirements["kubernetes.io/arch"]["values"] == [capacity.NODE_ARCHITECTURE]
    assert requirements["karpenter.sh/capacity-type"]["values"] == ["on-demand"]
    assert requirements["node.kubernetes.io/instance-type"]["values"] == config_value(
        run, "nodePoolInstanceTypes")
    assert one(run, "aws:eks/nodeGroup:NodeGroup").inputs["amiType"] == "AL2023_x86_64_STANDARD"


def test_the_system_nodes_hold_the_karpenter_replicas(run):
    release = next(r for r in run.of_type("kubernetes:helm.sh/v3:Release")
                   if r.inputs["name"] == "karpenter")
    # The chart keeps replicas on different nodes (required anti-affinity).
    assert 1 <= release.inputs["values"]["replicas"] <= config_value(run, "systemNodeMinSize")


@pytest.mark.parametrize(("cpu", "reserved"), [(2000, 70), (4000, 80), (8000, 90), (16000, 110)])
def test_kube_reserved_cpu_follows_the_eks_formula(cpu, reserved):
    assert capacity.kube_reserved_cpu_millis(cpu) == reserved


def test_node_overhead_for_a_large_node():
    room = capacity.schedulable(capacity.INSTANCE_SHAPES["m6i.large"])
    # 8 GiB less 7.5% hypervisor, 574 MiB kube-reserved (29 pods), 100 MiB eviction, DaemonSets.
    assert room == capacity.Room(2000 - 70 - 150, 7577 - 574 - 100 - 128, 27)


def test_first_fit_packs_and_refuses_a_pod_no_node_holds():
    node = capacity.Room(1000, 1000, 10)
    assert capacity.nodes_needed([capacity.Room(600, 100)] * 3, node) == 3
    assert capacity.nodes_needed([capacity.Room(500, 100)] * 4, node) == 2
    with pytest.raises(ValueError, match="fits on no node"):
        capacity.nodes_needed([capacity.Room(1001, 1)], node)


def test_the_collector_counts_against_the_node_pool():
    # dev's t3.medium pool of 3 holds read-api at 8 replicas, but not with the collector too.
    run_stack("dev", {"readApiMaxReplicas": 8, "collectorEnabled": False})
    run_stack("dev", {"readApiMaxReplicas": 8, "collectorEnabled": True})
    with pytest.raises(StackConfigError, match="nodePoolMaxNodes"):
        run_stack("dev", {"readApiMaxReplicas": 9, "collectorEnabled": True})
    run_stack("dev", {"readApiMaxReplicas": 9, "collectorEnabled": False})
    assert capacity.platform_pods(False) == []
    assert len(capacity.platform_pods(True)) == 2  # one replica and its rollout surge


@pytest.mark.parametrize(("orders_per_second", "pods"), [
    (100, {"write-api": 1, "read-api": 2, "worker": 2, "relay": 1}),
    (1_000, {"write-api": 5, "read-api": 12, "worker": 15, "relay": 5}),
    (10_000, {"write-api": 46, "read-api": 115, "worker": 144, "relay": 45}),
])
def test_the_capacity_model_gives_the_readmes_pods(orders_per_second, pods):
    # README.md, "Capacity model": pods needed at a sustained rate (the cost estimate uses it).
    assert {role: capacity.pods_at(role, orders_per_second)
            for role in capacity.CPU_MS_PER_ORDER} == pods
