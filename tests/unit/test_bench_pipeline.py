"""bench.pairs, what bench.pipeline_load reports: the worker and the bare consumer, pair by pair."""

from __future__ import annotations

import pytest

from bench import pairs


def _run(consumer: str, cpu: float) -> dict:
    return {"consumer": consumer, "consumer_cpu_ms_per_message": cpu}


def test_each_pair_gives_a_ratio_in_the_order_the_pairs_ran():
    # Pairs alternate which runs first: (worker, bare), (bare, worker), (worker, bare).
    rounds = [_run("worker", 1.0), _run("bare", 0.7), _run("bare", 0.8), _run("worker", 1.6),
              _run("worker", 0.9), _run("bare", 0.9)]
    summary = pairs.reference_summary(rounds)["reference"]
    assert summary["worker_cpu_ms_per_message"] == [1.0, 1.6, 0.9]
    assert summary["bare_cpu_ms_per_message"] == [0.7, 0.8, 0.9]
    assert summary["cpu_ratios"] == [0.7, 0.5, 1.0]
    assert summary["cpu_ratio_median"] == 0.7
    assert (summary["worker_median"], summary["bare_median"]) == (1.0, 0.8)


def test_a_pair_without_its_other_half_is_an_error_not_a_ratio():
    with pytest.raises(ValueError, match="zip"):
        pairs.reference_summary([_run("worker", 1.0), _run("bare", 0.7),
                                          _run("worker", 1.1)])


def test_the_pairs_alternate_which_consumer_runs_first():
    assert pairs.run_plan([1, 2], 3) == [
        ("worker", 1), ("worker", 2),
        ("worker", 1), ("bare", 1), ("bare", 1), ("worker", 1), ("worker", 1), ("bare", 1)]
    assert pairs.run_plan([1], 0) == [("worker", 1)]
