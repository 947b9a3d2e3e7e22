"""`make bench-pipeline`, small: the worker and the bare reference each take every order from
POST to CONFIRMED, are counted alike, and the summary pairs them; the worker's runs measure the
writer, and the summary sets it against pgbench's transaction. No figure is judged here (the
benchmark asserts nothing; the machine decides the figures), only that they hang together."""

from __future__ import annotations

import json
import os
import statistics
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
         "--timeout", "90", "--idle-seconds", "1", "--pgbench-transactions", "100",
         "--writer-runs", "1",
         "--pg-system-user", pg_system_user],
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
    # Only the first worker run measures the writer (--writer-runs 1): each measurement
    # waits twice for PostgreSQL to publish its counters.
    assert "writer" not in runs[1]
    _check_writer_figures([runs[0]], runs[2], summary)
    reference = summary["reference"]
    assert reference["worker_cpu_ms_per_message"] == [runs[1]["consumer_cpu_ms_per_message"]]
    assert reference["bare_cpu_ms_per_message"] == [runs[2]["consumer_cpu_ms_per_message"]]
    assert reference["cpu_ratios"] == [round(runs[2]["consumer_cpu_ms_per_message"]
                                             / runs[1]["consumer_cpu_ms_per_message"], 3)]


def _check_writer_figures(worker_runs: list[dict], bare_run: dict, summary: dict) -> None:
    """The writer's figures of each worker run agree with what the run did, and the summary
    with them and with pgbench's."""
    assert "writer" not in bare_run  # the bare consumer runs the same SQL: not measured twice
    for run in worker_runs:
        writer = run["writer"]
        assert writer["orders"] == ORDERS
        per_order = writer["per_order"]
        # Counted by PostgreSQL itself: each order is one orders row and one line, and each of
        # its three events one outbox row (the relay published three an order, above).
        assert per_order["rows"]["orders"]["inserted"] == 1.0, writer
        assert per_order["rows"]["order_lines"]["inserted"] == 1.0, writer
        assert per_order["rows"]["outbox"]["inserted"] == 3.0, writer
        assert per_order["statements"] == pytest.approx(
            sum(per_order["statements_by_kind"].values()), abs=0.01 * len(
                per_order["statements_by_kind"])), writer
        # Net of the idle rate, which in a run this small may be most of the CPU.
        assert writer["gross_cpu_ms_per_order"] >= per_order["cpu_ms"] >= 0, writer
        assert writer["gross_cpu_ms_per_order"] > 0 and per_order["wal_bytes"] > 0, writer
        # The relay polls an empty outbox while nothing happens.
        assert writer["idle_per_second"]["statements"] > 0, writer
    per_run = [r["writer"]["per_order"]["cpu_ms"] for r in worker_runs]
    assert summary["writer_cpu_ms_per_order_runs"] == per_run
    assert summary["writer_cpu_ms_per_order"] == round(statistics.median(per_run), 3)
    pgbench = summary["pgbench"]
    assert pgbench["transactions"] == 100 * pgbench["clients"]
    assert summary["pgbench_cpu_ms_per_transaction"] == pgbench["cpu_ms_per_transaction"] > 0
    assert summary["writer_cost_in_pgbench_transactions"] == round(
        summary["writer_cpu_ms_per_order"] / summary["pgbench_cpu_ms_per_transaction"], 2)
