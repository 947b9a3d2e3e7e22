"""bench.pairs.api_summary, what bench.compare reports: both ratios from the same pairs."""

from __future__ import annotations

import math
import subprocess
import sys

from bench import chart
from bench.pairs import api_summary


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
