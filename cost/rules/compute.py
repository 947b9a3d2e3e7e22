"""EKS: the control plane, the system node group and Karpenter's workload nodes."""

from __future__ import annotations

from collections.abc import Iterator

from cost.context import NODE_CLASS, NODE_GROUP, NODE_POOL, Context, desired_size, pool_types
from cost.lines import Line
from cost.rules import HOURS, rule
from infra import capacity
from infra.simulation import SimulatedResource


@rule("aws:eks/cluster:Cluster")
def _control_plane(r: SimulatedResource, c: Context) -> Iterator[Line]:
    support = (r.inputs.get("upgradePolicy") or {}).get("supportType", "STANDARD")
    yield c.line(r, f"EKS control plane ({support})", HOURS, "hour",
                 f"eks:cluster-hour:{support}")


@rule(NODE_GROUP)
def _system_nodes(r: SimulatedResource, c: Context) -> Iterator[Line]:
    instance_type = r.inputs["instanceTypes"][0]
    nodes = desired_size(r)
    yield c.line(r, f"{nodes} x {instance_type} (system nodes, desired size)", nodes * HOURS,
                 "instance-hour", f"ec2:instance-hour:{instance_type}")
    template = c.by_id(str((r.inputs.get("launchTemplate") or {}).get("id", "")))
    for mapping in (template.inputs.get("blockDeviceMappings") or []) if template else []:
        ebs = mapping["ebs"]
        size, kind = int(ebs["volumeSize"]), ebs["volumeType"]
        yield c.line(r, f"{nodes} x {size} GB {kind} root volume", nodes * size, "GB-month",
                     f"ebs:{kind}-gb-month")


@rule(NODE_POOL)
def _workload_nodes(r: SimulatedResource, c: Context) -> Iterator[Line]:
    allowed = pool_types(r.inputs["spec"])
    # Karpenter launches the cheapest on-demand type the pool allows.
    cheapest = min(allowed, key=lambda t: c.prices[f"ec2:instance-hour:{t}"])
    nodes = c.pool_nodes
    yield c.line(r, f"{nodes:g} x {cheapest} (Karpenter, pods at {c.traffic.orders_per_second} "
                    "orders/s)", nodes * HOURS, "instance-hour", f"ec2:instance-hour:{cheapest}")
    for node_class in c.run.of_type(NODE_CLASS):
        for mapping in node_class.inputs["spec"].get("blockDeviceMappings") or []:
            ebs = mapping["ebs"]
            size = capacity.memory_mib(ebs["volumeSize"]) / 1024
            yield c.line(r, f"{nodes:g} x {size:g} GB {ebs['volumeType']} root volume",
                         nodes * size, "GB-month", f"ebs:{ebs['volumeType']}-gb-month")
