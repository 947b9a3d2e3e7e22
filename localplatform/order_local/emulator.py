"""The moto server: a local AWS API for EventBridge, SQS and Secrets Manager."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request


def command(port: int) -> list[str]:
    """The foreground server command (what a supervisor runs)."""
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


def wait_ready(endpoint: str, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
    """Poll the emulator until it answers HTTP."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"moto server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):  # noqa: S310
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def start(port: int, log_path: str | None = None) -> subprocess.Popen:
    """Start the emulator as a child process and wait until it answers."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(command(port), stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)  # stopped by its owner, not by Ctrl-C
    wait_ready(f"http://127.0.0.1:{port}", proc)
    return proc


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate the emulator."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
