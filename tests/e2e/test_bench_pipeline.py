"""`make bench-pipeline`, small: the worker and the bare reference each take every order from
POST to CONFIRMED, are counted alike, and the summary pairs them. No figure is judged here
(the benchmark asserts nothing; the machine decides the figures)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
ORDERS = 12


def test_the_worker_and_the_bare_consumer_each_settle_every_order(pg_system_user):
    done = subprocess.run(
        [sys.executable, "-m", "bench.pipeline_load", "--workers", "1",
         "--orders", str(ORDERS), "--warmup", "3", "--reference-rounds", "1",
         "--timeout", "90", "--pg-system-user", pg_system_user],
        # Short long polls: a worker that stops ends the one in progress first.
        env={**os.environ, "WORKER_POLL_WAIT_SECONDS": "1"},
        capture_output=True, text=True, timeout=420, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    *runs, summary = lines
    assert [(r["consumer"], r["workers"]) for r in runs] == [
        ("worker", 1), ("worker", 1), ("bare", 1)]
    for run in runs:
        assert run["complete"] and run["confirmed"] == ORDERS, run
        assert run["stock_left"] == 0, run
        # Three messages an order (validation, inventory, eviction), counted by each consumer's
        # own /metrics, and as many events published.
        assert run["messages_handled"] == run["events_published"] == 3 * ORDERS, run
        assert run["consumer_cpu_ms_per_message"] > 0, run
        assert run["cpu_seconds"][f"{run['consumer']}-1-0"] > 0, run
    reference = summary["reference"]
    assert reference["worker_cpu_ms_per_message"] == [runs[1]["consumer_cpu_ms_per_message"]]
    assert reference["bare_cpu_ms_per_message"] == [runs[2]["consumer_cpu_ms_per_message"]]
    assert reference["cpu_ratios"] == [round(runs[2]["consumer_cpu_ms_per_message"]
                                             / runs[1]["consumer_cpu_ms_per_message"], 3)]
