"""What the writer spends: CPU of its process tree, transactions, statements, WAL, table rows.

``take`` reads one ``Snapshot`` of the writer; the difference of two is a ``Usage``. The
statements are the application role's only (``pg_stat_statements``, normalised text), so the
benchmark's own queries (made as the superuser, or on the reader) are not counted; its CPU
is the whole tree's (backends, WAL writer, walsender, autovacuum, checkpointer), which is
what a writer instance pays for. ``Usage.net`` takes away what the writer spends when nothing
happens (the relay's polling, the probes), measured in an idle window of the same processes.

PostgreSQL publishes a backend's table and transaction counters when it goes idle, but at
most once a second, and an idle backend with counts still pending waits up to
``PGSTAT_IDLE_SECONDS``: a snapshot is only complete that long after the last activity of
the connections that are not polling (``FLUSH_SECONDS``). ``pg_stat_statements``, the WAL
position and the CPU are current at once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import psutil

from bench.measure import tree_cpu_seconds

PGSTAT_IDLE_SECONDS = 10.0
"""PostgreSQL's PGSTAT_IDLE_INTERVAL: how long an idle backend may hold its counts."""
FLUSH_SECONDS = PGSTAT_IDLE_SECONDS + 1.0
"""Wait this long after the last activity for every backend's counts to be published."""
SETTINGS = {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.max": "2000",
            "pg_stat_statements.track_planning": "on"}
"""The benchmark's writer: pg_stat_statements loaded (it needs a restart, so only here)."""

_STATEMENTS = """SELECT s.query, sum(s.calls)::bigint, sum(s.rows)::bigint,
    sum(s.wal_bytes)::bigint, sum(s.total_exec_time + s.total_plan_time)::float8
    FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
    WHERE r.rolname = %s AND s.dbid = (SELECT oid FROM pg_database WHERE datname = %s)
    GROUP BY s.query"""
_TABLES = ("SELECT relname, n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd "
           "FROM pg_stat_user_tables")
_DATABASE = ("SELECT xact_commit, xact_rollback, (pg_current_wal_lsn() - '0/0')::bigint "
             "FROM pg_stat_database WHERE datname = %s")
ROW_FIELDS = ("inserted", "updated", "deleted", "hot_updated")


@dataclass(frozen=True)
class Snapshot:
    """The writer's counters at one moment (``at``: time.monotonic())."""

    at: float
    cpu_seconds: float
    commits: int
    rollbacks: int
    wal_bytes: int
    statements: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    """Normalised statement text: calls, rows, WAL bytes, milliseconds planning and running."""
    tables: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    """Table: rows inserted, updated, deleted, updated in place (HOT)."""
    processes: Mapping[str, float] = field(default_factory=dict)
    """CPU seconds by kind of process (``process_kind``)."""


def process_kind(title: str) -> str:
    """What a server process is, from the title PostgreSQL gives it: "backend <role>" for a
    client's connection, else its role ("walwriter", "walsender", "autovacuum worker")."""
    words = title.removeprefix("postgres:").split()
    if len(words) >= 3 and words[0] != "walsender" and (
            words[2].startswith(("[local]", "127.", "::1")) or "(" in words[2]):
        return f"backend {words[0]}"
    if words and words[0] in ("walsender", "walwriter", "checkpointer", "startup"):
        return words[0]
    return " ".join(w for w in words[:2] if not w[0].isdigit()) or "postmaster"


def cpu_by_process(pid: int) -> dict[str, float]:
    """CPU seconds of the server ``pid``'s processes by ``process_kind``; the processes that
    ended (an autovacuum worker, a closed connection) count as "ended", from the
    postmaster's children times."""
    kinds: dict[str, float] = {}
    try:
        root = psutil.Process(pid)
        children = root.children(recursive=True)
        own = root.cpu_times()
    except psutil.Error:
        return kinds
    kinds["postmaster"] = own.user + own.system
    kinds["ended"] = own.children_user + own.children_system
    for proc in children:
        try:
            times, title = proc.cpu_times(), " ".join(proc.cmdline())
        except psutil.Error:
            continue
        kind = process_kind(title)
        kinds[kind] = kinds.get(kind, 0.0) + times.user + times.system
    return kinds


def take(admin, writer_pid: int, role: str, dbname: str) -> Snapshot:
    """Read the writer's counters with ``admin``, a superuser connection to ``dbname`` in
    autocommit; ``role`` is the application's."""
    with admin.cursor() as cur:
        cur.execute(_DATABASE, (dbname,))
        commits, rollbacks, wal = cur.fetchone()
        cur.execute(_STATEMENTS, (role, dbname))
        statements = {query: tuple(counts) for query, *counts in cur.fetchall()}
        cur.execute(_TABLES)
        tables = {name: tuple(counts) for name, *counts in cur.fetchall()}
    return Snapshot(time.monotonic(), tree_cpu_seconds(writer_pid), commits, rollbacks, wal,
                    statements, tables, cpu_by_process(writer_pid))


def enable_statements(admin) -> None:
    """Create the pg_stat_statements view in the application's database (idempotent)."""
    with admin.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")


@dataclass(frozen=True)
class Usage:
    """What the writer did between two snapshots, over ``seconds``."""

    seconds: float
    cpu_seconds: float
    commits: float
    rollbacks: float
    wal_bytes: float
    statements: dict[str, tuple[float, ...]]
    tables: dict[str, tuple[float, ...]]
    processes: dict[str, float] = field(default_factory=dict)

    @classmethod
    def between(cls, before: Snapshot, after: Snapshot) -> Usage:
        """``after`` less ``before``; a statement or table new in ``after`` counts from 0."""
        def diff(new: Mapping[str, tuple], old: Mapping[str, tuple]) -> dict[str, tuple]:
            changed = {}
            for key, values in new.items():
                base = old.get(key, (0,) * len(values))
                delta = tuple(a - b for a, b in zip(values, base, strict=True))
                if any(delta):
                    changed[key] = delta
            return changed
        return cls(after.at - before.at, after.cpu_seconds - before.cpu_seconds,
                   after.commits - before.commits, after.rollbacks - before.rollbacks,
                   after.wal_bytes - before.wal_bytes,
                   diff(after.statements, before.statements), diff(after.tables, before.tables),
                   {k: v - before.processes.get(k, 0.0) for k, v in after.processes.items()})

    def scaled(self, factor: float) -> Usage:
        """Every figure times ``factor`` (seconds too)."""
        return Usage(self.seconds * factor, self.cpu_seconds * factor, self.commits * factor,
                     self.rollbacks * factor, self.wal_bytes * factor,
                     {k: tuple(v * factor for v in vs) for k, vs in self.statements.items()},
                     {k: tuple(v * factor for v in vs) for k, vs in self.tables.items()},
                     {k: v * factor for k, v in self.processes.items()})

    def net(self, idle: Usage) -> Usage:
        """This usage less what ``idle`` spends in as many seconds; nothing goes below 0."""
        rate = idle.scaled(self.seconds / idle.seconds) if idle.seconds > 0 else idle.scaled(0)

        def less(mine: dict[str, tuple], theirs: dict[str, tuple]) -> dict[str, tuple]:
            return {k: tuple(max(0.0, a - b) for a, b in
                             zip(v, theirs.get(k, (0.0,) * len(v)), strict=True))
                    for k, v in mine.items()}
        return Usage(self.seconds, max(0.0, self.cpu_seconds - rate.cpu_seconds),
                     max(0.0, self.commits - rate.commits),
                     max(0.0, self.rollbacks - rate.rollbacks),
                     max(0.0, self.wal_bytes - rate.wal_bytes),
                     less(self.statements, rate.statements), less(self.tables, rate.tables),
                     {k: max(0.0, v - rate.processes.get(k, 0.0))
                      for k, v in self.processes.items()})

    def per(self, count: float) -> dict:
        """The figures per unit (an order, or an idle second), rounded for a report; the
        statements' calls, WAL and time (planning and running) summed by kind."""
        def r(value: float) -> float:
            return round(value / count, 3)
        kinds: dict[str, list[float]] = {}
        for query, (calls, _, wal, ms) in self.statements.items():
            kind = kinds.setdefault(statement_kind(query), [0.0, 0.0, 0.0])
            kind[0], kind[1], kind[2] = kind[0] + calls, kind[1] + wal, kind[2] + ms
        by_wal = sorted(kinds.items(), key=lambda item: -item[1][1])
        return {
            "cpu_ms": round(1000 * self.cpu_seconds / count, 3),
            "transactions": r(self.commits + self.rollbacks),
            "statements": r(sum(v[0] for v in self.statements.values())),
            "wal_bytes": round(self.wal_bytes / count),
            "statements_by_kind": {k: r(v[0]) for k, v in sorted(kinds.items())},
            "wal_bytes_by_statement": {k: round(v[1] / count) for k, v in by_wal
                                       if v[1] >= count},
            "statement_ms_by_kind": {k: r(v[2]) for k, v in sorted(kinds.items())},
            "rows": {t: dict(zip(ROW_FIELDS, (r(v) for v in vs), strict=True))
                     for t, vs in sorted(self.tables.items())},
            "cpu_ms_by_process": {k: round(1000 * v / count, 3)
                                  for k, v in sorted(self.processes.items()) if v > 0},
        }


_PREPARE = re.compile(r"^\s*PREPARE\s+\w+\s+AS\s+", re.I)
_VERB = re.compile(r"^\s*(WITH|INSERT INTO|UPDATE|DELETE FROM|SELECT|[A-Z]+)\b\s*", re.I)
# A FROM followed by "(" is a function's argument (extract(epoch FROM now() ...)), not a table.
_TABLE = re.compile(r"\b(?:INSERT INTO|UPDATE|DELETE FROM)\s+(\w+)|\bFROM\s+(\w+)\b(?!\s*\()",
                    re.I)


def statement_kind(query: str) -> str:
    """A statement's verb and first table ("INSERT outbox", "SELECT outbox FOR UPDATE",
    "COMMIT");
    a WITH names the tables it writes ("WITH INSERT orders, INSERT order_lines")."""
    query = _PREPARE.sub("", query, count=1)  # a prepared statement's calls are its own
    match = _VERB.match(query)
    if match is None:
        return "other"
    verb = match.group(1).upper().split()[0]
    if verb == "WITH":
        writes = re.findall(r"\b(INSERT INTO|UPDATE|DELETE FROM)\s+(\w+)", query, re.I)
        return "WITH " + (", ".join(f"{v.split()[0].upper()} {t}" for v, t in writes)
                          or "SELECT")
    table = _TABLE.search(query)
    if table is None or verb not in ("INSERT", "UPDATE", "DELETE", "SELECT"):
        return verb
    locking = " FOR UPDATE" if re.search(r"\bFOR (NO KEY )?UPDATE\b", query, re.I) else ""
    return f"{verb} {table.group(1) or table.group(2)}{locking}"
