"""The local platform with every process in our hands: each can be killed, frozen, stopped
and restarted on its own, which a supervisor (that stops everything when one child exits)
would not allow."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg2
import psycopg2.extras
import requests

from order_local import emulator, postgres, stack
from order_local.chaos.proxy import RefusingProxy
from order_local.machine import DEFAULT_SYSTEM_USER
from order_local.ports import Ports, free_port
from order_local.provision import LOCAL_ACCESS_KEY
from order_platform import launch
from order_platform.processes import READ_API, RELAY, WORKER, WRITE_API, Process

READY_TIMEOUT_SECONDS = 90


@dataclass
class Service:
    """One process of the catalogue, started as the image would start it."""

    name: str
    process: Process
    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        """Its API or probe base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> None:
        """Start it (again); wait until it answers its liveness probe."""
        argv = launch.command(self.process, host="127.0.0.1", port=self.port)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT)
        if wait:
            self.wait_live()

    def wait_live(self) -> None:
        """Poll its liveness probe until it answers (bounded)."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; "
                                   f"see {self.log_path}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + self.process.probes.liveness, timeout=2).ok:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not answer within {READY_TIMEOUT_SECONDS}s")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, no rollback."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def stop(self) -> int | None:
        """SIGTERM, then wait for its exit (SIGKILL past the pod's grace)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(self.process.termination_grace_seconds)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        return self.proc.returncode

    def signal_tree(self, sig: int) -> None:
        """Send ``sig`` to the process and its children (gunicorn's workers)."""
        if self.proc is not None:
            _signal_tree(self.proc.pid, sig)


def _signal_tree(pid: int, sig: int) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        root = psutil.Process(pid)
        for proc in (root, *root.children(recursive=True)):
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(sig)


@dataclass
class ChaosPlatform:
    """PostgreSQL (writer and streaming reader), the emulator behind a refusing proxy, both
    APIs, ``workers`` workers and a relay, each under our control."""

    base_dir: Path
    workers: int = 2
    pg_system_user: str = DEFAULT_SYSTEM_USER
    services: dict[str, Service] = field(default_factory=dict)

    def start(self) -> ChaosPlatform:
        """Start everything; the services talk to AWS through the proxy."""
        self.ports = Ports.free()
        self.backing = stack.start_backing(self.base_dir / "data", self.ports,
                                           self.pg_system_user)
        self.proxy = RefusingProxy(("127.0.0.1", self.ports.aws), free_port()).accept()
        contract = {**self.backing.contract, "AWS_ENDPOINT_URL": self.proxy.url,
                    "READ_API_URL": self.ports.url(READ_API.role)}
        self.contract = contract
        plan = [("write-api", WRITE_API, self.ports[WRITE_API.role]),
                ("read-api", READ_API, self.ports[READ_API.role]),
                ("relay", RELAY, free_port()),
                *((f"worker-{i + 1}", WORKER, free_port()) for i in range(self.workers))]
        for name, proc, port in plan:
            env = {**os.environ, **contract, **launch.environment(proc),
                   # Short polls only so that stops are quick; messages arrive at once.
                   "WORKER_POLL_WAIT_SECONDS": "2", "LOG_LEVEL": "INFO"}
            if proc.health_port:
                env["HEALTH_PORT"] = str(port)
            self.services[name] = Service(name, proc, port, env,
                                          self.base_dir / f"{name}.log")
        for service in self.services.values():
            service.start(wait=False)
        for service in self.services.values():
            service.wait_live()
        return self

    def stop(self) -> None:
        """Stop the services, then the backing services (nothing left frozen)."""
        self.thaw_writer()
        self.resume_aws()
        for service in self.services.values():
            service.signal_tree(signal.SIGCONT)
            service.stop()
        self.proxy.refuse()
        self.backing.stop()

    def worker_names(self) -> list[str]:
        """Every worker's service name."""
        return [name for name, s in self.services.items() if s.process is WORKER]

    # -- the writer and the reader ----------------------------------------------------
    def stop_writer(self) -> None:
        """A clean writer shutdown (what a restart or a failover does first)."""
        postgres.stop(self.backing.pg)

    def start_writer(self) -> None:
        """Start the writer again, on the same data."""
        self.backing.pg = self.backing.writer.start()

    def stop_reader(self) -> None:
        """The reader goes away; the writer stays."""
        postgres.stop(self.backing.pg_reader)

    def start_reader(self) -> None:
        """The reader comes back and catches up by streaming."""
        self.backing.pg_reader = self.backing.reader.start()

    def freeze_writer(self) -> None:
        """Stop every process of the writer, not only the postmaster: each backend runs in
        a session of its own and would go on answering."""
        _signal_tree(self.backing.pg.pid, signal.SIGSTOP)

    def thaw_writer(self) -> None:
        """Let a frozen writer run again."""
        _signal_tree(self.backing.pg.pid, signal.SIGCONT)

    # -- the AWS emulator ---------------------------------------------------------------
    def hang_aws(self) -> None:
        """The emulator stops answering (connections open, no replies)."""
        self.backing.aws.send_signal(signal.SIGSTOP)

    def resume_aws(self) -> None:
        """The emulator answers again."""
        self.backing.aws.send_signal(signal.SIGCONT)

    # -- inspection -------------------------------------------------------------------
    @contextlib.contextmanager
    def writer_query(self) -> Iterator[psycopg2.extras.RealDictCursor]:
        """A superuser cursor on the app database (autocommit), for the checks."""
        conn = psycopg2.connect(**self.backing.writer.superuser_dsn(stack.APP_DB),
                                connect_timeout=5)
        conn.autocommit = True
        try:
            with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                yield cur
        finally:
            conn.close()

    def aws(self, service: str):
        """A client on the emulator itself, not through the proxy (the checks must see it
        while the services cannot)."""
        import boto3

        return boto3.session.Session(
            aws_access_key_id=LOCAL_ACCESS_KEY, aws_secret_access_key=LOCAL_ACCESS_KEY,
            region_name=self.contract["AWS_REGION"]).client(
                service, endpoint_url=f"http://127.0.0.1:{self.ports.aws}")


def wait_emulator(platform: ChaosPlatform) -> None:
    """Wait until the emulator answers again after a fault."""
    emulator.wait_ready(f"http://127.0.0.1:{platform.ports.aws}", timeout=30)


def count_of(cur: psycopg2.extras.RealDictCursor) -> int:
    """The ``n`` of the ``SELECT count(*) AS n ...`` just run on ``cur`` (always one row)."""
    row = cur.fetchone()
    if row is None:
        raise RuntimeError("a count returned no row")
    return int(row["n"])
