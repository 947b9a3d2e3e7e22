"""The command line of ``bench.pipeline_load`` (``make bench-pipeline``)."""

from __future__ import annotations

import argparse

from order_local import machine


def options(argv: list[str] | None, description: str) -> argparse.Namespace:
    """``bench.pipeline_load``'s options, checked; ``counts``: the worker counts as ints."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30,
                        help="orders run through every new set of workers before measuring")
    parser.add_argument("--concurrency", type=int, default=8, help="POSTing threads")
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=300, help="per run, after POSTs")
    parser.add_argument("--reference-rounds", type=int, default=3,
                        help="pairs of one-process runs, the worker and the bare consumer")
    parser.add_argument("--idle-seconds", type=float, default=10,
                        help="the idle window measured on the writer before each worker run")
    parser.add_argument("--writer-runs", type=int, default=20,
                        help="how many worker runs, the first ones, also measure the writer")
    parser.add_argument("--pgbench-transactions", type=int, default=500,
                        help="pgbench transactions per client (clients: --concurrency)")
    parser.add_argument("--pg-system-user", default=machine.DEFAULT_SYSTEM_USER,
                        help="the account PostgreSQL runs as under root")
    args = parser.parse_args(argv)
    args.counts = [int(n) for n in args.workers.split(",")]
    if not (1 <= args.orders <= 100_000 and all(1 <= n <= 16 for n in args.counts)
            and 0 <= args.reference_rounds <= 20 and 0.5 <= args.idle_seconds <= 120
            and 1 <= args.pgbench_transactions <= 100_000 and 1 <= args.writer_runs <= 20):
        parser.error("--orders must be 1..100000, each worker count 1..16, "
                     "--reference-rounds 0..20, --idle-seconds 0.5..120, "
                     "--pgbench-transactions 1..100000, --writer-runs 1..20")
    return args
