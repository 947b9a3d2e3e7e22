"""The Aurora writer in the capacity model: what one order costs it, what each instance class
carries, and what the HPA maxima could send it.

Pods scale out; the writer does not: every order's transactions go to the one writer
instance, so its CPU is the platform's ceiling once the pods can outrun it. The figures come
from ``make bench-pipeline`` (README, "Capacity model"; docs/performance.md): the writer's CPU
per order; the pods' come from ``infra/capacity.py``.
``infra/validation.py`` refuses maxima that would take more than the writer's whole CPU, and
warns where they take more than its target share (or a burstable class's baseline).
"""

from __future__ import annotations

from collections.abc import Mapping

from infra import capacity

WRITER_CPU_MS_PER_ORDER = 2.33
"""The writer's CPU per order (its whole process tree, gross: idle polling included), the
median of six `make bench-pipeline` runs of 300 and 600 orders alternated with the code
before the prepared statements (2026-12-07: 1.60, 2.50, 1.87, 2.35, 2.45, 2.30; before:
3.50, 2.57, 3.87, 3.67, 3.38, 3.72)."""
WRITER_TARGET_UTILIZATION = capacity.HPA_CPU_TARGET_PERCENT / 100
"""The share of the writer's CPU the model plans to use, as the HPAs' target: the rest is for
bursts, vacuum and checkpoints, and for failover onto a cold instance."""

_SIZE_VCPUS = {"medium": 2, "large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16,
               "8xlarge": 32, "12xlarge": 48, "16xlarge": 64, "24xlarge": 96, "32xlarge": 128,
               "48xlarge": 192}
_BURSTABLE_BASELINE = {"db.t4g.medium": 0.2, "db.t4g.large": 0.3}
"""A burstable class's baseline share of each vCPU: what it sustains once its credits are spent."""


def writer_vcpus(instance_class: str) -> int:
    """vCPUs of an Aurora instance class (``db.r6g.xlarge``: 4)."""
    size = instance_class.rsplit(".", 1)[-1]
    if size not in _SIZE_VCPUS:
        raise ValueError(f"unknown size of instance class {instance_class!r}")
    return _SIZE_VCPUS[size]


def orders_per_second_per_vcpu(cpu_ms_per_order: float = WRITER_CPU_MS_PER_ORDER) -> float:
    """Orders/s one fully busy writer vCPU takes."""
    return 1000 / cpu_ms_per_order


def writer_ceiling(instance_class: str, *, sustained: bool = True) -> int:
    """Orders/s the writer carries: at the target share of its vCPUs (of a burstable class's
    baseline), or with ``sustained`` False, with every vCPU fully busy."""
    vcpus: float = writer_vcpus(instance_class)
    if sustained:
        vcpus *= _BURSTABLE_BASELINE.get(instance_class, 1.0) * WRITER_TARGET_UTILIZATION
    return int(vcpus * orders_per_second_per_vcpu())


def pod_orders_per_second(role: str) -> int:
    """Orders/s one pod of ``role`` carries at its HPA target (``infra/capacity.py``)."""
    return int(capacity.pod_cores_at_target(role) * 1000 / capacity.CPU_MS_PER_ORDER[role])


def pods_ceiling(max_replicas: Mapping[str, int]) -> tuple[int, str]:
    """Orders/s the pipeline carries with every HPA at its maximum, and the role that bounds
    it (every order passes through every role)."""
    rates = {role: count * pod_orders_per_second(role) for role, count in max_replicas.items()
             if role in capacity.CPU_MS_PER_ORDER}
    role = min(rates, key=rates.__getitem__)
    return rates[role], role


def writer_problems(instance_class: str, max_replicas: Mapping[str, int]) -> list[str]:
    """The HPA maxima against the writer's whole CPU: a problem when they could send it more."""
    pods, role = pods_ceiling(max_replicas)
    full = writer_ceiling(instance_class, sustained=False)
    if pods <= full:
        return []
    return [f"the HPA maxima carry {pods} orders/s (bounded by {role}), more than the "
            f"{instance_class} writer takes with every vCPU busy ({full} orders/s at "
            f"{WRITER_CPU_MS_PER_ORDER} ms of writer CPU an order): raise dbInstanceClass or "
            "lower the *MaxReplicas"]


def writer_warnings(instance_class: str, max_replicas: Mapping[str, int]) -> list[str]:
    """The HPA maxima against the writer's planned share (or baseline) of its CPU."""
    pods, role = pods_ceiling(max_replicas)
    planned = writer_ceiling(instance_class)
    if pods <= planned:
        return []
    baseline = " (a burstable class's baseline)" if instance_class in _BURSTABLE_BASELINE else ""
    return [f"the HPA maxima carry {pods} orders/s (bounded by {role}); the {instance_class} "
            f"writer takes {planned} orders/s at {WRITER_TARGET_UTILIZATION:.0%} of its "
            f"CPU{baseline}: beyond that the writer, not the pods, sets the rate"]
