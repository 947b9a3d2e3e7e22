"""bench.pairs.api_summary, what bench.compare reports: both ratios from the same pairs."""

from __future__ import annotations

import math
import subprocess
import sys

from bench import chart
from bench.pairs import api_summary, median_interval


def _round(target: str, number: int, rps: float, cpu: float, endpoint: str = "POST /orders"):
    return {"endpoint": endpoint, "target": target, "round": number, "rps": rps,
            "p50_ms": 10.0, "p99_ms": 20.0, "cpu_ms_per_request": cpu}


def test_throughput_and_cpu_ratios_are_taken_per_pair_and_their_medians_reported():
    rounds = [_round("project", 1, 900, 1.2), _round("bare", 1, 1000, 0.9),
              _round("bare", 2, 1000, 1.0), _round("project", 2, 950, 1.0),
              _round("project", 3, 1000, 0.8), _round("bare", 3, 800, 0.72)]
    summary = api_summary(rounds)["POST /orders"]
    assert summary["ratios"] == [0.9, 0.95, 1.25]
    assert summary["ratio_median"] == 0.95
    # bare / project: below 1.0 when the project spends more CPU on a request
    assert summary["cpu_ratios"] == [0.75, 1.0, 0.9]
    assert summary["cpu_ratio_median"] == 0.9
    assert summary["project_cpu_ms_per_request"] == 1.0
    assert summary["bare_rps"] == 1000


def test_the_interval_of_the_median_is_the_binomial_one_of_the_textbook_tables():
    # Order statistics (k, n-k+1) and their coverage 1 - 2 P(Bin(n, 1/2) < k), as tabled for
    # the sign test: 7 rounds reach 90 % only with their extremes, 12 with the 3rd and 10th.
    assert median_interval([0.7, 0.9, 0.8, 1.0, 0.6, 0.85, 0.75]) == (0.6, 1.0, 0.984375)
    low, high, coverage = median_interval([float(v) for v in range(12, 0, -1)])
    assert (low, high) == (3.0, 10.0)
    assert math.isclose(coverage, 1 - 2 * (1 + 12 + 66) / 4096)
    # Too few rounds for 90 %: the whole range, with what it covers.
    assert median_interval([0.9, 0.8, 1.0, 0.7]) == (0.7, 1.0, 0.875)


def test_the_summary_gives_each_ratio_an_interval_around_its_median():
    ratios = [0.80, 0.90, 0.85, 0.70, 0.95, 0.88, 0.83, 0.86]
    rounds = [r for n, ratio in enumerate(ratios) for r in (
        _round("project", n, 1000 * ratio, 1.0), _round("bare", n, 1000, ratio))]
    summary = api_summary(rounds)["POST /orders"]
    assert summary["ratio_interval"] == {"low": 0.8, "high": 0.9, "coverage": 0.93}
    assert summary["cpu_ratio_interval"] == summary["ratio_interval"]
    assert summary["ratio_interval"]["low"] <= summary["ratio_median"] \
        <= summary["ratio_interval"]["high"]


def test_a_round_without_cpu_is_left_out_of_the_cpu_ratio_rather_than_ending_the_report():
    rounds = [_round("project", 1, 900, 0.0), _round("bare", 1, 1000, 0.9)]
    summary = api_summary(rounds)["POST /orders"]
    assert summary["ratio_median"] == 0.9
    assert math.isnan(summary["cpu_ratio_median"])


def test_the_chart_names_both_ratios_of_each_endpoint():
    rounds = [_round("project", 1, 900, 1.2), _round("bare", 1, 1000, 0.9),
              _round("project", 1, 1500, 0.8, "GET /orders/{id}"),
              _round("bare", 1, 1500, 0.8, "GET /orders/{id}")]
    report = {"settings": {"rounds": 1, "gunicorn": {"workers": 2}},
              "summary": api_summary(rounds)}
    svg = chart.render(report)
    assert "POST /orders: 0.90x req/s, 0.75x CPU" in svg
    assert "GET /orders/{id}: 1.00x req/s, 1.00x CPU" in svg


def test_a_benchmark_killed_with_sigterm_runs_its_finally_blocks():
    # What stops the platform a benchmark started is a `finally`; SIGTERM's default action
    # skips it and leaves the whole platform running.
    script = ("import os, signal\n"
              "from bench.measure import unwind_on_sigterm\n"
              "unwind_on_sigterm()\n"
              "try:\n"
              "    os.kill(os.getpid(), signal.SIGTERM)\n"
              "    signal.pause()\n"
              "finally:\n"
              "    print('stopped what it started', flush=True)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.stdout == "stopped what it started\n" and done.returncode == 143, done
