"""Fixtures for pipeline e2e tests: a private database and topology, and real processes.

Each test gets its own database and queues (the relay publishes everything in its
database) and starts the processes it needs; all of them stop when the test ends.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from order_platform.processes import RELAY, WORKER, WRITE_API
from tests.integration.pipeline.harness import Pipeline, make_pipeline, wait_until
from tests.support.platform import free_port
from tests.support.processes import command, environment, running


class Services:
    """Starts worker, relay and write API processes on free ports; logs go to tmp files."""

    def __init__(self, pipeline: Pipeline, logs_dir: Path, stack: ExitStack) -> None:
        self.pipeline = pipeline
        self.logs_dir = logs_dir
        self._stack = stack
        self._count = 0

    def _log(self, name: str) -> Path:
        self._count += 1
        return self.logs_dir / f"{self._count:02d}-{name}.log"

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None,
              ready_path: str | None = "/readyz", port: int | None = None):
        """Start ``command`` and wait until it is ready (unless ready_path is None)."""
        port = port or free_port()
        full_env = {**self.pipeline.env, "HEALTH_PORT": str(port), **(env or {})}
        log_path = self._log(name)
        ready_url = f"http://127.0.0.1:{port}{ready_path}" if ready_path else None
        proc = self._stack.enter_context(running(command, full_env, ready_url=ready_url,
                                                 log_path=log_path))
        proc.log_path = log_path
        proc.port = port
        return proc

    def worker(self, wait_ready: bool = True, crash_at: str | None = None, **env: str):
        """A worker process; ``crash_at`` kills it at that point (``tests.support.crash_at``)."""
        return self.start("worker", self._command(WORKER, crash_at),
                          {**environment(WORKER), **env},
                          ready_path="/readyz" if wait_ready else None)

    def relay(self, wait_ready: bool = True, crash_at: str | None = None, **env: str):
        """A relay process; ``crash_at`` kills it at that point (``tests.support.crash_at``)."""
        return self.start("relay", self._command(RELAY, crash_at),
                          {**environment(RELAY), **env},
                          ready_path="/readyz" if wait_ready else None)

    @staticmethod
    def _command(proc, crash_at: str | None) -> list[str]:
        if crash_at is None:
            return command(proc)
        return [sys.executable, "-m", "tests.support.crash_at", crash_at]

    def write_api(self, **env: str) -> str:
        """The write API under gunicorn (``env`` on top of the contract); its base URL."""
        port = free_port()
        self.start("write-api", command(WRITE_API, port),
                   {**environment(WRITE_API), "DB_POOL_MAX": "12", **env}, ready_path="/readyz",
                   port=port)
        return f"http://127.0.0.1:{port}"


def log_records(proc) -> list[dict]:
    """The JSON log lines a process wrote so far."""
    records = []
    for line in Path(proc.log_path).read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def stop(proc, sig: int = signal.SIGTERM, timeout: float = 40) -> int:
    """Signal a process and wait for its exit code (bounded)."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def wait_exit(proc, timeout: float = 60) -> int:
    """Wait for a process to exit by itself (bounded)."""
    return proc.wait(timeout)


def wait_status(pipeline: Pipeline, order_id: str, wanted: set[str], timeout: float = 60):
    """Poll the writer until the order reaches one of ``wanted``; return the row."""
    return wait_until(lambda: (row := pipeline.order(order_id))["status"] in wanted and row,
                      timeout=timeout, interval=0.1,
                      what=f"order {order_id} to reach {sorted(wanted)}")


@pytest.fixture
def pipeline(pg_server, aws_endpoint, aws_credentials_env):
    """A private database and topology, as in the integration tests."""
    pipe = make_pipeline(pg_server, aws_endpoint)
    yield pipe
    pipe.close()


@pytest.fixture
def services(pipeline, tmp_path):
    """Processes started by the test; stopped (SIGTERM, then SIGKILL) at teardown."""
    with ExitStack() as stack:
        yield Services(pipeline, tmp_path, stack)
