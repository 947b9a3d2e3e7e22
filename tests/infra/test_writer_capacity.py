"""The writer in the capacity model: the HPA maxima of a stack are held against what its
Aurora writer takes (infra/writer_capacity.py), besides the nodes (test_capacity.py)."""

from __future__ import annotations

import math

import pytest

from infra import writer_capacity as wc
from infra.config import StackConfigError
from infra.simulation import run_stack, stack_config

PROD_MAXIMA = {"write-api": 10, "read-api": 20, "worker": 10, "relay": 3}


def test_a_writer_vcpu_takes_the_orders_its_measured_cpu_per_order_allows():
    assert wc.orders_per_second_per_vcpu(4.0) == 250
    assert wc.writer_vcpus("db.r6g.xlarge") == 4
    assert wc.writer_vcpus("db.t4g.medium") == 2
    full = wc.writer_ceiling("db.r6g.xlarge", sustained=False)
    assert full == int(4 * 1000 / wc.WRITER_CPU_MS_PER_ORDER)
    assert wc.writer_ceiling("db.r6g.xlarge") == int(full * wc.WRITER_TARGET_UTILIZATION)
    # Twice the vCPUs, twice the orders: the class must grow with the rate.
    assert wc.writer_ceiling("db.r6g.2xlarge", sustained=False) == pytest.approx(2 * full, abs=1)
    # A burstable class sustains only its baseline once its credits are spent.
    assert wc.writer_ceiling("db.t4g.medium") < wc.writer_ceiling("db.r6g.large") / 2
    with pytest.raises(ValueError, match="unknown size"):
        wc.writer_vcpus("db.x9.huge")


def test_the_pipeline_goes_as_fast_as_its_slowest_role_at_its_maximum():
    assert [wc.pod_orders_per_second(r) for r in PROD_MAXIMA] == [218, 87, 69, 224]  # README
    assert wc.pods_ceiling(PROD_MAXIMA) == (3 * wc.pod_orders_per_second("relay"), "relay")
    assert wc.pods_ceiling({**PROD_MAXIMA, "auditor": 1})[1] == "relay"  # no model: ignored


def _maxima_beyond(instance_class: str) -> dict[str, int]:
    """Maxima whose slowest role carries more than the writer takes with every vCPU busy."""
    full = wc.writer_ceiling(instance_class, sustained=False)
    return {role: math.ceil(full / wc.pod_orders_per_second(role)) + 1 for role in PROD_MAXIMA}


def test_maxima_beyond_the_writers_whole_cpu_are_refused_and_a_larger_class_takes_them():
    maxima = _maxima_beyond("db.r6g.xlarge")
    overrides = {f"{key}MaxReplicas": maxima[role] for key, role in (
        ("writeApi", "write-api"), ("readApi", "read-api"), ("worker", "worker"),
        ("relay", "relay"))}
    with pytest.raises(StackConfigError, match=r"db\.r6g\.xlarge writer takes .* raise "
                                               r"dbInstanceClass"):
        run_stack("prod", {**overrides, "nodePoolMaxNodes": 40})
    assert wc.writer_problems("db.r6g.2xlarge", maxima) == []
    run_stack("prod", {**overrides, "nodePoolMaxNodes": 40, "dbInstanceClass": "db.r6g.2xlarge"})


def test_every_stack_file_fits_its_writer_and_says_where_it_outruns_the_planned_share():
    for stack in ("dev", "staging", "prod"):
        config = stack_config(stack)
        instance_class = config["order-platform:dbInstanceClass"]
        maxima = {role: int(config[f"order-platform:{key}MaxReplicas"]) for key, role in (
            ("writeApi", "write-api"), ("readApi", "read-api"), ("worker", "worker"),
            ("relay", "relay"))}
        assert wc.writer_problems(instance_class, maxima) == [], stack
        pods, _ = wc.pods_ceiling(maxima)
        warned = wc.writer_warnings(instance_class, maxima)
        assert bool(warned) == (pods > wc.writer_ceiling(instance_class)), stack
