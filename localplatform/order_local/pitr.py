"""Point-in-time recovery of a local cluster, the way Aurora restores one from its backups:
continuous WAL archiving into a directory, a base backup, and a new cluster that replays the
archive from that backup up to a named restore point, then promotes itself.

Aurora does the same with its own storage (a snapshot plus its continuous log); here the
archive is a directory and the copy is ``cp``, so the mechanics can be run and timed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg2

from order_local import machine
from order_local.pg_binaries import bin_path, remove
from order_local.postgres import SUPERUSER, LocalPostgres

ARCHIVE_TIMEOUT_SECONDS = 60
"""A segment is archived at the latest this long after its first write, busy or idle: the
bound on what a lost writer can take with it (Aurora's is its five-minute restore window)."""


@dataclass(frozen=True)
class RestorePoint:
    """A named position in the WAL, and the server's clock when it was written."""

    name: str
    lsn: str
    at: datetime


def archiving(archive_dir: Path) -> dict[str, str]:
    """Server settings that copy every completed WAL segment into ``archive_dir``, never
    overwriting one (a second cluster archiving into it by mistake fails loudly instead)."""
    into = shlex.quote(str(archive_dir))
    return {"wal_level": "replica", "archive_mode": "on",
            "archive_command": f"test ! -f {into}/%f && cp %p {into}/%f",
            "archive_timeout": str(ARCHIVE_TIMEOUT_SECONDS),
            # Commit times travel in the WAL, so a restored cluster can say when its newest
            # transaction committed: the measured recovery point.
            "track_commit_timestamp": "on"}


def prepare_archive(server: LocalPostgres, archive_dir: Path) -> None:
    """An empty archive directory the server account may write."""
    remove(archive_dir)
    machine.prepare_data_dir(server.account, archive_dir)


def base_backup(server: LocalPostgres, backup_dir: Path) -> None:
    """A consistent copy of the running ``server``'s cluster in ``backup_dir``."""
    remove(backup_dir)
    machine.prepare_data_dir(server.account, backup_dir)
    backup_dir.chmod(0o700)
    # Over the server's socket: the wheel's libpq has no TLS to pass its front with.
    server.run_tool([bin_path("pg_basebackup"), "-h", str(server.socket_dir()),
                     "-p", str(server.port),
                     "-U", SUPERUSER, "-D", str(backup_dir), "--wal-method=stream",
                     "--checkpoint=fast", "--no-sync"],
                    env={**os.environ, "PGPASSWORD": server.superuser_password})


def mark(server: LocalPostgres, name: str) -> RestorePoint:
    """Write a named restore point into the WAL (``pg_create_restore_point``)."""
    conn = psycopg2.connect(**server.superuser_dsn(), connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_create_restore_point(%s)::text, clock_timestamp()", (name,))
            lsn, at = cur.fetchone()
    finally:
        conn.close()
    return RestorePoint(name=name, lsn=lsn, at=at)


def archive_now(server: LocalPostgres, timeout: float = 60) -> str:
    """Close the current WAL segment and wait until the archiver has copied it (what
    ``archive_timeout`` would do by itself); the segment's name."""
    segment = str(server.scalar("SELECT pg_walfile_name(pg_switch_wal())"))
    deadline = time.monotonic() + timeout
    while str(server.scalar("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")) \
            < segment:
        if time.monotonic() > deadline:
            failed = server.scalar("SELECT last_failed_wal FROM pg_stat_archiver")
            raise TimeoutError(f"WAL segment {segment} not archived in {timeout}s (last failed:"
                               f" {failed}); see {server.log_file()}")
        time.sleep(0.05)
    return segment


def recovery(archive_dir: Path, target: RestorePoint) -> dict[str, str]:
    """Server settings that replay ``archive_dir`` up to ``target``, then promote."""
    source = shlex.quote(str(archive_dir))
    return {"restore_command": f"cp {source}/%f %p", "recovery_target_name": target.name,
            "recovery_target_action": "promote", "track_commit_timestamp": "on"}


def prepare_restore(backup_dir: Path, server: LocalPostgres) -> None:
    """Make ``server``'s data directory a copy of ``backup_dir`` that starts in recovery."""
    remove(server.data_dir)
    shutil.copytree(backup_dir, server.data_dir)
    server.data_dir.chmod(0o700)
    (server.data_dir / "recovery.signal").touch()
    if server.account.switch:
        machine.chown_tree(server.data_dir, server.account)


def wait_promoted(server: LocalPostgres, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Poll until the restored cluster has reached its target and left recovery."""
    deadline = time.monotonic() + timeout
    while server.scalar("SELECT pg_is_in_recovery()"):
        if proc.poll() is not None:
            raise RuntimeError(f"the restored cluster exited with {proc.returncode}; see "
                               f"{server.log_file()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the restored cluster is still recovering after {timeout}s; "
                               f"see {server.log_file()}")
        time.sleep(0.05)
