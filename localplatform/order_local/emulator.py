"""The moto server: a local AWS API for EventBridge, SQS, Secrets Manager and Cognito.

moto's own ``moto.server`` runs on werkzeug's development server, which answers every request
with ``Connection: close``: each SQS or EventBridge call of every process then opens a new TCP
connection, which AWS never makes them do (boto3 keeps its connections alive) and which costs
the services and the emulator CPU that the cloud would not. The same application under gunicorn
keeps connections alive. One worker process, because moto keeps its state in memory; many
threads, because each long poll (ReceiveMessage, up to 20 s) holds one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

from order_local import children

THREADS = 128
"""Concurrent requests, long polls included: a few dozen consumers at once, with room."""


def command(port: int) -> list[str]:
    """The foreground server command (what a supervisor runs). No control socket: gunicorn
    would open one at ~/.gunicorn/gunicorn.ctl, shared by every emulator on the machine and
    left behind in the home directory."""
    return [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers", "1",
            "--threads", str(THREADS), "--keep-alive", "75", "--graceful-timeout", "1",
            "--no-control-socket", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
            "order_local.moto_app:app"]


def environment(port: int) -> dict[str, str]:
    """What the server needs besides the caller's environment: the port its URLs name, and
    user-pool and app-client ids derived from their names, so that the issuer and audiences the
    services trust stay the same across restarts of the emulator."""
    return {**os.environ, "MOTO_PORT": str(port),
            "MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY": "HASH",
            "MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY": "HASH"}


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
    return children.start(command(port), lambda proc: wait_ready(f"http://127.0.0.1:{port}", proc),
                          log_path=log_path, env=environment(port))


stop = children.stop
"""Terminate the emulator."""
