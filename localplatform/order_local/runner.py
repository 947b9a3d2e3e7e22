"""`order-local up` as a child process: for e2e tests and benchmarks that need the whole
platform on free ports and must stop it afterwards."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from order_local.ports import Ports
from order_platform.processes import DEPLOYED, READ_API, WRITE_API

READY_LINE = "order-platform is up"


class LocalPlatformProcess:
    """Starts the platform, collects its output, and stops it with Ctrl-C (SIGINT)."""

    def __init__(self, data_dir: Path, ports: Ports, *, seed: bool = True,
                 pg_system_user: str | None = None, env: dict[str, str] | None = None,
                 run_as: tuple[int, int] | None = None) -> None:
        self.ports = ports
        self.data_dir = data_dir
        args = [sys.executable, "-m", "order_local", "up",
                "--data-dir", str(data_dir)]
        if pg_system_user:
            args += ["--pg-system-user", pg_system_user]
        args += list(ports.args())
        if not seed:
            args.append("--no-seed")
        # ``run_as`` (uid, gid): start it as another user, as root may.
        account: dict[str, Any] = (
            {"user": run_as[0], "group": run_as[1], "extra_groups": []} if run_as else {})
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env, **account)
        self.lines: list[str] = []
        threading.Thread(target=self._collect, daemon=True).start()

    @property
    def write_url(self) -> str:
        """Base URL of the write API."""
        return self.ports.url(WRITE_API.role)

    @property
    def read_url(self) -> str:
        """Base URL of the read API."""
        return self.ports.url(READ_API.role)

    def _collect(self) -> None:
        for line in self.proc.stdout or ():  # always a pipe: started with stdout=PIPE
            self.lines.append(line)

    def output(self) -> str:
        """Everything the platform printed so far."""
        return "".join(self.lines)

    def wait_for(self, text: str = READY_LINE, timeout: float = 180) -> None:
        """Block until ``text`` is printed; fail if the platform exits or the deadline passes."""
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.proc.poll() is not None:
                raise RuntimeError(f"platform exited early:\n{self.output()[-4000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {text!r} in {timeout}s:\n{self.output()[-4000:]}")
            time.sleep(0.2)

    def service_memory(self) -> dict[str, int]:
        """Memory in bytes per service (e.g. 'write-api'), summed over its processes.

        PSS (proportional set size) splits each shared page among the processes sharing it,
        so forked gunicorn workers and PostgreSQL backends with their shared buffers are not
        counted twice, as a sum of RSS would. Falls back to RSS where PSS is unavailable.
        """
        totals: dict[str, int] = {}
        try:
            descendants = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            return totals
        for proc in descendants:
            try:
                name = _owning_service(proc)
                if name is None:
                    continue
                info = proc.memory_full_info()
                used = getattr(info, "pss", None) or info.rss
            except psutil.Error:
                continue  # exited while we looked
            totals[name] = totals.get(name, 0) + used
        return totals

    def interrupt(self, timeout: float = 60) -> int:
        """Ctrl-C, then wait for a clean exit; kill after ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def _owning_service(proc: psutil.Process) -> str | None:
    """The service a process belongs to: its own, or its nearest named ancestor's."""
    for candidate in (proc, *proc.parents()):
        name = _service_name(" ".join(candidate.cmdline()))
        if name:
            return name
    return None


_MARKERS = (*((p.entry, p.role) for p in DEPLOYED),
            ("order_local.moto_app", "aws-emulator"), ("redis-server", "product-cache"),
            ("pgdata-reader", "postgres-reader"),
            ("bin/postgres", "postgres"))
"""What in a command line tells whose process it is: each process's entry (its app or
module, in every command ``launch`` builds), then the backing services'."""


def _service_name(cmdline: str) -> str | None:
    for marker, name in _MARKERS:
        if marker in cmdline:
            return name
    return None
