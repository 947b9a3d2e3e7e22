"""Start service processes for e2e tests and stop them afterwards, as the catalogue says."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from order_platform import launch
from order_platform.processes import Process

REPO = Path(__file__).resolve().parents[2]


def command(proc: Process, port: int | None = None) -> list[str]:
    """The catalogue's command for ``proc``, an API bound to 127.0.0.1:port."""
    return launch.command(proc, host="127.0.0.1", port=port)


def environment(proc: Process, port: int | None = None) -> dict[str, str]:
    """What ``proc`` is started with besides the contract; a daemon's probes on ``port``."""
    env = launch.environment(proc)
    if port is not None and proc.health_port is not None:
        env["HEALTH_PORT"] = str(port)
    return env


def wait_http_ok(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Poll ``url`` until it answers 200; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer 200 within {timeout}s")
        time.sleep(0.1)


@contextmanager
def running(command: list[str], env: dict[str, str], ready_url: str | None = None,
            log_path: Path | None = None, stop_signal: int = signal.SIGTERM):
    """Run ``command`` with ``env`` added to ours; wait for ``ready_url``; stop on exit."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(command, env={**os.environ, **env}, stdout=out,
                            stderr=subprocess.STDOUT, cwd=REPO)
    try:
        if ready_url:
            wait_http_ok(ready_url, proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(stop_signal)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
