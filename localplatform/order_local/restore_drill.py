"""`make restore-drill`: lose the writer, restore it to a point in time, check what came back.

On the embedded PostgreSQL, with the real write API in front of it: a writer that archives
its WAL continuously, a base backup, orders placed before and after a named restore point,
the writer killed and its data directory deleted, then a new cluster restored from the backup
and the archive up to that point (``pitr``), as Aurora restores a cluster into a new one.
The check: every order acknowledged before the point is there with its lines, its history
and its outbox event, none placed after it is, and no outbox event names a missing order.
It prints the measured recovery point and the time from the loss to a serving database.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import requests

from order_local import children, emulator, identity, pitr, postgres, provision
from order_local.machine import DEFAULT_SYSTEM_USER
from order_local.ports import free_port
from order_local.stack import APP_DB, APP_ROLE
from order_platform import launch
from order_platform.adapters.schema import apply_migrations
from order_platform.domain.access import Role
from order_platform.processes import WRITE_API

RESTORE_POINT = "restore-drill"
LINES_PER_ORDER = 2
CUSTOMER = "restore-drill"
"""Who places the drill's orders (the token's subject; ``_CHECK`` names it)."""


@dataclass(frozen=True)
class Findings:
    """What the restored cluster holds, against what the write API acknowledged."""

    acknowledged_before: int
    acknowledged_after: int
    missing: tuple[str, ...]
    """Acknowledged before the restore point, absent after the restore."""
    incomplete: tuple[str, ...]
    """Restored without all of its lines, its history or its OrderCreated event."""
    resurrected: tuple[str, ...]
    """Placed after the restore point, yet restored."""
    orphan_events: int
    """Outbox events whose order the restored cluster does not hold."""
    newest_commit_before_point_seconds: float
    """Recovery point: how long before the restore point the newest restored commit was."""
    rto_seconds: float
    """From the writer's loss to a restored, promoted cluster answering queries."""
    after_seconds: float
    """How long the orders placed after the restore point took: what the restore discards."""
    wal_segments_archived: int

    @property
    def passed(self) -> bool:
        """Nothing acknowledged lost, nothing later kept, the outbox whole."""
        return not (self.missing or self.incomplete or self.resurrected or self.orphan_events)

    def report(self) -> str:
        """The lines the drill prints."""
        return "\n".join([
            f"restore-drill: {'PASSED' if self.passed else 'FAILED'}",
            f"  orders acknowledged before the restore point: {self.acknowledged_before}, "
            f"missing after the restore: {len(self.missing)}, incomplete: "
            f"{len(self.incomplete)}",
            f"  orders placed in the {self.after_seconds:.2f} s after it: "
            f"{self.acknowledged_after}, restored: {len(self.resurrected)} (the target "
            f"excludes them)",
            f"  outbox events without their order: {self.orphan_events}",
            f"  RPO: 0 acknowledged orders lost up to the point; the newest restored commit is "
            f"{self.newest_commit_before_point_seconds * 1000:.1f} ms before it",
            f"  RTO: {self.rto_seconds:.2f} s from the writer's loss to a serving database "
            f"({self.wal_segments_archived} WAL segments in the archive)",
        ])


def _writer(work_dir: Path, system_user: str) -> postgres.LocalPostgres:
    port = free_port()
    return postgres.LocalPostgres(data_dir=work_dir / "pgdata", port=port,
                                  superuser_password=secrets.token_urlsafe(24),
                                  system_user=system_user,
                                  settings=pitr.archiving(work_dir / "wal-archive"))


def _start_write_api(contract: dict[str, str], log_path: Path) -> tuple[str, subprocess.Popen]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def ready(proc: subprocess.Popen) -> None:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the write API exited with {proc.returncode}; see {log_path}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}{WRITE_API.probes.readiness}", timeout=2).ok:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the write API did not answer in 60 s; see {log_path}")
            time.sleep(0.1)

    env = {**os.environ, **contract, **launch.environment(WRITE_API), "WEB_CONCURRENCY": "1"}
    argv = launch.command(WRITE_API, host="127.0.0.1", port=port)
    return url, children.start(argv, ready, log_path=log_path, env=env)


def _products(api: str, auth: dict[str, str]) -> list[str]:
    """One product per order line (a product may appear on one line only)."""
    created = []
    for _ in range(LINES_PER_ORDER):
        response = requests.post(f"{api}/products", timeout=10, headers=auth, json={
            "sku": f"DRILL-{uuid.uuid4().hex[:10]}", "name": "Drill product",
            "price_cents": 100, "stock": 1_000_000})
        response.raise_for_status()
        created.append(response.json()["id"])
    return created


def _place(api: str, products: list[str], count: int, auth: dict[str, str]) -> list[str]:
    """Orders the write API acknowledged (202), by id."""
    items = [{"product_id": product, "quantity": 1} for product in products]
    placed = []
    for _ in range(count):
        response = requests.post(f"{api}/orders", timeout=10, headers=auth,
                                 json={"items": items})
        if response.status_code != 202:
            raise RuntimeError(f"the write API refused an order: {response.status_code} "
                               f"{response.text}")
        placed.append(response.json()["id"])
    return placed


def _destroy(writer: postgres.LocalPostgres, proc: subprocess.Popen) -> None:
    """SIGKILL the writer and delete its data directory: nothing flushed, nothing kept."""
    proc.kill()
    proc.wait()
    postgres.remove(writer.data_dir)


def _restore(writer: postgres.LocalPostgres, work_dir: Path, point: pitr.RestorePoint,
             stack: contextlib.ExitStack) -> postgres.LocalPostgres:
    restored = postgres.LocalPostgres(
        data_dir=work_dir / "pgdata-restored", port=free_port(),
        superuser_password=writer.superuser_password, system_user=writer.system_user,
        settings=pitr.recovery(work_dir / "wal-archive", point))
    pitr.prepare_restore(work_dir / "base-backup", restored)
    proc = restored.start()
    stack.callback(postgres.stop, proc)
    pitr.wait_promoted(restored, proc)
    return restored


_CHECK = """
SELECT o.id::text,
       (SELECT count(*) FROM order_lines l WHERE l.order_id = o.id) AS lines,
       (SELECT count(*) FROM order_status_history h WHERE h.order_id = o.id) AS history,
       (SELECT count(*) FROM outbox e WHERE e.event_type = 'OrderCreated'
                                        AND e.detail->>'order_id' = o.id::text) AS events
FROM orders o WHERE o.customer_id = 'restore-drill'"""
_ORPHANS = """SELECT count(*) FROM outbox e WHERE e.detail ? 'order_id'
  AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id::text = e.detail->>'order_id')"""
_NEWEST_COMMIT = "SELECT max(pg_xact_commit_timestamp(xmin)) FROM orders"


def _examine(restored: postgres.LocalPostgres, *, before: list[str], after: list[str],
             point: pitr.RestorePoint, timings: tuple[float, float], archive: Path) -> Findings:
    conn = psycopg2.connect(**restored.superuser_dsn(APP_DB), connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute(_CHECK)
            rows = {row[0]: row[1:] for row in cur.fetchall()}
            cur.execute(_ORPHANS)
            orphans = cur.fetchone()[0]
            cur.execute(_NEWEST_COMMIT)
            newest = cur.fetchone()[0]
    finally:
        conn.close()
    return Findings(
        acknowledged_before=len(before), acknowledged_after=len(after),
        missing=tuple(o for o in before if o not in rows),
        incomplete=tuple(o for o in before if o in rows and rows[o] != (LINES_PER_ORDER, 1, 1)),
        resurrected=tuple(o for o in after if o in rows), orphan_events=orphans,
        newest_commit_before_point_seconds=(point.at - newest).total_seconds(),
        rto_seconds=timings[0], after_seconds=timings[1],
        wal_segments_archived=sum(1 for _ in archive.iterdir()))


def run(work_dir: Path, orders: int, system_user: str = DEFAULT_SYSTEM_USER) -> Findings:
    """The whole drill in ``work_dir`` (emptied first); every server it starts is stopped."""
    postgres.remove(work_dir)
    work_dir.mkdir(parents=True)
    writer = _writer(work_dir, system_user)
    with contextlib.ExitStack() as stack:
        pitr.prepare_archive(writer, work_dir / "wal-archive")
        writer_proc = writer.start()
        stack.callback(postgres.stop, writer_proc)
        password = secrets.token_urlsafe(24)
        writer.ensure_role_and_database(role=APP_ROLE, password=password, dbname=APP_DB)
        apply_migrations(host=writer.host, port=writer.port, dbname=APP_DB, user=APP_ROLE,
                         password=password, ssl_root_cert=str(writer.ca_file))
        aws_port = free_port()
        stack.callback(emulator.stop, emulator.start(aws_port, str(work_dir / "moto.log")))
        aws = provision.LocalAws(endpoint_url=f"http://127.0.0.1:{aws_port}")
        contract = provision.provision_contract(
            aws, db_port=writer.port, db_name=APP_DB, db_user=APP_ROLE, db_password=password,
            db_ssl_root_cert=str(writer.ca_file))
        # The drill's customer, an admin too: it makes its products and places its orders.
        token = identity.build_identity(aws).customer_token(CUSTOMER, Role.ADMIN)
        auth = {"Authorization": f"Bearer {token}"}
        api, api_proc = _start_write_api(contract, work_dir / "write-api.log")
        stack.callback(children.stop, api_proc)
        products = _products(api, auth)
        pitr.base_backup(writer, work_dir / "base-backup")
        before = _place(api, products, orders, auth)
        point = pitr.mark(writer, RESTORE_POINT)
        started = time.monotonic()
        after = _place(api, products, orders, auth)
        after_seconds = time.monotonic() - started
        pitr.archive_now(writer)
        children.stop(api_proc)
        lost_at = time.monotonic()
        _destroy(writer, writer_proc)
        restored = _restore(writer, work_dir, point, stack)
        restored.scalar("SELECT count(*) FROM orders", dbname=APP_DB)
        rto = time.monotonic() - lost_at
        return _examine(restored, before=before, after=after, point=point,
                        timings=(rto, after_seconds), archive=work_dir / "wal-archive")
