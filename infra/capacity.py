"""How much the workload nodes can hold, and how much the pods ask for at their HPA maxima.

Karpenter launches workload nodes up to the NodePool's limits; the HPAs may grow every
Deployment to its maximum at once, and a release surges each rollout on top. This module
models both sides so that ``infra/config.py`` refuses a stack whose maxima cannot be
scheduled and ``tests/infra/test_capacity.py`` checks the objects the program builds.
The node overhead follows the EKS AL2023 bootstrap (kube-reserved by CPU and max pods,
hard eviction) and Karpenter's own estimate of memory lost to the hypervisor.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

NODE_ARCHITECTURE = "amd64"
"""Every node is x86_64: the image is built for linux/amd64 (``make image``), the system node
group's AMI type and the NodePool's ``kubernetes.io/arch`` requirement say the same."""


@dataclass(frozen=True)
class InstanceShape:
    """What an EC2 instance type offers Kubernetes before any reservation."""

    cpu_millis: int
    memory_mib: int
    max_pods: int
    """ENI-limited pods per node with the VPC CNI (AWS's eni-max-pods table)."""


INSTANCE_SHAPES: dict[str, InstanceShape] = {
    "t3.medium": InstanceShape(2000, 4096, 17),
    "t3.large": InstanceShape(2000, 8192, 35),
    "t3.xlarge": InstanceShape(4000, 16384, 58),
    "m5.large": InstanceShape(2000, 8192, 29),
    "m5.xlarge": InstanceShape(4000, 16384, 58),
    "m5.2xlarge": InstanceShape(8000, 32768, 58),
    "m6i.large": InstanceShape(2000, 8192, 29),
    "m6i.xlarge": InstanceShape(4000, 16384, 58),
    "m6i.2xlarge": InstanceShape(8000, 32768, 58),
    "m7i.large": InstanceShape(2000, 8192, 29),
    "m7i.xlarge": InstanceShape(4000, 16384, 58),
    "c6i.large": InstanceShape(2000, 4096, 29),
    "c6i.xlarge": InstanceShape(4000, 8192, 58),
}
"""x86_64 instance types the program may use (Graviton would not run the amd64 image)."""


@dataclass(frozen=True)
class PodSize:
    """Requests (what the scheduler reserves) and limits of one container."""

    cpu_millis: int
    memory_mib: int
    cpu_limit_millis: int
    memory_limit_mib: int

    @property
    def resources(self) -> dict:
        """The container's ``resources`` block."""
        return {"requests": {"cpu": f"{self.cpu_millis}m", "memory": f"{self.memory_mib}Mi"},
                "limits": {"cpu": f"{self.cpu_limit_millis}m",
                           "memory": f"{self.memory_limit_mib}Mi"}}


_API = PodSize(250, 256, 1000, 512)
POD_SIZES: dict[str, PodSize] = {
    "write-api": _API,
    "read-api": _API,
    "worker": PodSize(250, 256, 1000, 512),
    "relay": PodSize(250, 256, 500, 512),  # one loop: more CPU would only burn it faster
    "migrate": PodSize(100, 128, 500, 256),
}
"""Per process role of the catalogue that runs in the cluster."""

HPA_CPU_TARGET_PERCENT = 70
"""Every HPA scales its Deployment to keep the pods' CPU at this share of their request."""
CPU_MS_PER_ORDER = {"write-api": 0.80, "read-api": 2.0, "worker": 2.52, "relay": 0.78}
"""CPU one order costs each process (README, "Capacity model": make bench on 2026-11-26): the
POST; a product read and two status reads; three messages; three events."""


def pod_cores_at_target(role: str) -> float:
    """The CPU cores one pod of ``role`` uses when its HPA is at target."""
    return POD_SIZES[role].cpu_millis / 1000 * HPA_CPU_TARGET_PERCENT / 100


def pods_at(role: str, orders_per_second: float) -> int:
    """Pods of ``role`` the HPA runs at ``orders_per_second`` before its minimum applies."""
    cores = orders_per_second * CPU_MS_PER_ORDER[role] / 1000
    return max(1, math.ceil(cores / pod_cores_at_target(role)))


SURGE_PERCENT = 25
"""Rolling updates add this share of a Deployment's replicas (rounded up) before removing any."""
VM_MEMORY_OVERHEAD = 0.075
"""Karpenter's ``vmMemoryOverheadPercent``: memory the hypervisor and kernel keep."""
EVICTION_HARD_MIB = 100
DAEMONSET_CPU_MILLIS = 150
"""aws-node (VPC CNI and its network-policy agent) and kube-proxy ask 125m; the rest is room."""
DAEMONSET_MEMORY_MIB = 128
DAEMONSET_PODS = 2


@dataclass(frozen=True)
class Room:
    """Resources left on a node (or asked for by a pod: a pod is a Room of one)."""

    cpu_millis: int
    memory_mib: int
    pods: int = 1

    def holds(self, pod: Room) -> bool:
        """True when ``pod`` fits in what is left."""
        return (pod.cpu_millis <= self.cpu_millis and pod.memory_mib <= self.memory_mib
                and pod.pods <= self.pods)

    def minus(self, pod: Room) -> Room:
        """What is left after placing ``pod``."""
        return Room(self.cpu_millis - pod.cpu_millis, self.memory_mib - pod.memory_mib,
                    self.pods - pod.pods)


def kube_reserved_cpu_millis(cpu_millis: int) -> int:
    """EKS kube-reserved CPU: 6% of the first core, 1% of the second, 0.5% of the next two,
    0.25% of every core above four."""
    cores = cpu_millis / 1000
    steps = ((1, 0.06), (1, 0.01), (2, 0.005), (math.inf, 0.0025))
    reserved, left = 0.0, cores
    for width, share in steps:
        taken = min(left, width)
        reserved += taken * share * 1000
        left -= taken
    return math.ceil(reserved)


def kube_reserved_memory_mib(max_pods: int) -> int:
    """EKS kube-reserved memory: 11 MiB per pod the node may run, plus 255 MiB."""
    return 11 * max_pods + 255


def schedulable(shape: InstanceShape) -> Room:
    """What a workload node offers pods once the kubelet, eviction and DaemonSets took theirs."""
    capacity_memory = math.floor(shape.memory_mib * (1 - VM_MEMORY_OVERHEAD))
    return Room(
        cpu_millis=shape.cpu_millis - kube_reserved_cpu_millis(shape.cpu_millis)
        - DAEMONSET_CPU_MILLIS,
        memory_mib=capacity_memory - kube_reserved_memory_mib(shape.max_pods)
        - EVICTION_HARD_MIB - DAEMONSET_MEMORY_MIB,
        pods=shape.max_pods - DAEMONSET_PODS)


def surge(replicas: int) -> int:
    """Extra pods a rolling update creates at ``replicas`` (maxSurge rounds up)."""
    return math.ceil(replicas * SURGE_PERCENT / 100)


def nodes_needed(pods: Iterable[Room], node: Room) -> int:
    """Nodes of room ``node`` that hold every pod, packed first-fit by decreasing size.

    First-fit decreasing is within 11/9 of the optimum, so a stack that passes has room to
    spare rather than a packing only a perfect scheduler would find.
    """
    free: list[Room] = []
    for pod in sorted(pods, key=lambda p: (p.cpu_millis, p.memory_mib), reverse=True):
        if not node.holds(pod):
            raise ValueError(f"a pod asking {pod} fits on no node offering {node}")
        for index, room in enumerate(free):
            if room.holds(pod):
                free[index] = room.minus(pod)
                break
        else:
            free.append(node.minus(pod))
    return len(free)


COLLECTOR_SIZE = PodSize(200, 256, 1000, 512)
"""The OpenTelemetry collector (one replica: two would scrape every pod twice)."""


def platform_pods(collector_enabled: bool) -> list[Room]:
    """Pods of the platform's own that land on the workload nodes: the collector, surging."""
    if not collector_enabled:
        return []
    return [Room(COLLECTOR_SIZE.cpu_millis, COLLECTOR_SIZE.memory_mib)] * (1 + surge(1))


def release_demand(max_replicas: dict[str, int], extra: Iterable[Room] = ()) -> list[Room]:
    """Every pod of a release at the HPA maxima: each Deployment surging, plus the migration
    and ``extra`` pods of the platform's own (``platform_pods``)."""
    pods = list(extra)
    for role, replicas in max_replicas.items():
        size = POD_SIZES[role]
        pods += [Room(size.cpu_millis, size.memory_mib)] * (replicas + surge(replicas))
    migrate = POD_SIZES["migrate"]
    return [*pods, Room(migrate.cpu_millis, migrate.memory_mib)]


_QUANTITY = re.compile(r"(\d+(?:\.\d+)?)(m|Mi|Gi|Ki)?")


def _quantity(quantity: str | int | float) -> tuple[str, str | None]:
    match = _QUANTITY.fullmatch(str(quantity))
    if match is None:
        raise ValueError(f"{quantity!r} is not a Kubernetes quantity")
    return match.group(1), match.group(2)


def cpu_millis(quantity: str | int | float) -> int:
    """A Kubernetes CPU quantity (``"250m"``, ``"2"``, ``2``) in millicores."""
    number, unit = _quantity(quantity)
    return round(float(number) * (1 if unit == "m" else 1000))


def memory_mib(quantity: str) -> int:
    """A Kubernetes memory quantity (``"256Mi"``, ``"48Gi"``) in MiB."""
    number, unit = _quantity(quantity)
    factor = {"Mi": 1, "Gi": 1024, "Ki": 1 / 1024}[unit or ""]
    return math.ceil(float(number) * factor)
