"""The pipeline benchmark's view of the writer: an idle window before each measured run, the
run's cost per order net of idle, and pgbench's transaction as the unit to compare it with.

The benchmark keeps its own queries off the writer: it waits for orders to settle on the
reader (a streaming replica), and reads the writer's statistics as the superuser, whose
statements ``writer_cost`` does not count. What it cannot keep off the writer's CPU (a few
statistics queries per run) is below a millisecond.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

from bench import pgbench_reference
from bench.measure import tree_cpu_seconds
from bench.writer_cost import FLUSH_SECONDS, Snapshot, Usage, enable_statements, take


@dataclass
class WriterWatch:
    """Snapshots of one writer (``pid``), read with ``admin`` (superuser, autocommit, in the
    application's database ``dbname``); ``role`` is the application's login."""

    admin: object
    pid: int
    role: str
    dbname: str
    idle_seconds: float = 10.0
    flush_seconds: float = FLUSH_SECONDS
    idle: list[Usage] = field(default_factory=list)

    def __post_init__(self) -> None:
        enable_statements(self.admin)

    def settled(self) -> Snapshot:
        """A snapshot once every backend's counts are published (see ``writer_cost``)."""
        time.sleep(self.flush_seconds)
        return take(self.admin, self.pid, self.role, self.dbname)

    def idle_window(self) -> Snapshot:
        """Measure ``idle_seconds`` of nothing happening (kept in ``idle``); the snapshot at
        its end, which is where the next measurement starts."""
        start = self.settled()
        time.sleep(self.idle_seconds)
        end = take(self.admin, self.pid, self.role, self.dbname)
        self.idle.append(Usage.between(start, end))
        return end

    def report(self, before: Snapshot, orders: int) -> dict:
        """The writer's cost per order since ``before``, gross and net of the last idle
        window's rate. CPU, statements and WAL are read now (they are current at once), so
        the wait for the table and transaction counters adds no idle CPU to subtract."""
        now = Usage.between(before, take(self.admin, self.pid, self.role, self.dbname))
        late = Usage.between(before, self.settled()).net(self.idle[-1]).per(orders)
        idle = self.idle[-1]
        per_order = {**now.net(idle).per(orders),
                     **{k: late[k] for k in ("transactions", "rows")}}
        return {"orders": orders, "seconds": round(now.seconds, 2),
                "gross_cpu_ms_per_order": round(1000 * now.cpu_seconds / orders, 3),
                "per_order": per_order, "idle_per_second": idle.per(idle.seconds)}

    def idle_cpu_per_second(self, seconds: float) -> float:
        """The tree's CPU per second over ``seconds`` of nothing happening (no statistics)."""
        before = tree_cpu_seconds(self.pid)
        time.sleep(seconds)
        return (tree_cpu_seconds(self.pid) - before) / seconds


def pgbench_figures(watch: WriterWatch, binary: str, dsn: dict, *, clients: int, scale: int,
                    transactions_per_client: int) -> dict:
    """pgbench's TPC-B-like transaction on the writer: its CPU per transaction, net of what the
    platform's idle processes spend meanwhile (measured just before)."""
    pgbench_reference.prepare(watch.admin, binary, dsn, scale)
    idle = watch.idle_cpu_per_second(watch.idle_seconds)
    run = pgbench_reference.run(binary, dsn, watch.pid, clients=clients,
                                transactions_per_client=transactions_per_client)
    return {"clients": run.clients, "scale": scale, "transactions": run.transactions,
            "tps": run.tps, "seconds": run.seconds,
            "server_cpu_seconds": round(run.server_cpu_seconds, 3),
            "idle_cpu_ms_per_second": round(1000 * idle, 3),
            "cpu_ms_per_transaction": run.cpu_ms_per_transaction(idle)}


def summary(writer_runs: list[dict], pgbench: dict) -> dict:
    """The headline: the median run's writer CPU per order, pgbench's per transaction, and
    how many of those an order costs; the idle writer's queries and CPU per second."""
    per_order = [r["per_order"]["cpu_ms"] for r in writer_runs]
    writer = statistics.median(per_order)
    reference = pgbench["cpu_ms_per_transaction"]
    idle = [r["idle_per_second"] for r in writer_runs]
    return {
        "writer_cpu_ms_per_order": round(writer, 3),
        "writer_cpu_ms_per_order_runs": per_order,
        "pgbench_cpu_ms_per_transaction": reference,
        "writer_cost_in_pgbench_transactions": round(writer / reference, 2) if reference else None,
        "writer_idle_statements_per_second": statistics.median(i["statements"] for i in idle),
        "writer_idle_cpu_ms_per_second": statistics.median(i["cpu_ms"] for i in idle),
        "pgbench": pgbench,
    }
