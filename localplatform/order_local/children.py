"""The backing servers' processes (the AWS emulator, the cache): started in a session of their
own, so that their owner stops them, not a Ctrl-C meant for the supervisor."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from os import PathLike


def start(argv: list[str], wait_ready: Callable[[subprocess.Popen], None], *,
          log_path: str | PathLike | None = None,
          env: Mapping[str, str] | None = None) -> subprocess.Popen:
    """Start ``argv`` with its output in ``log_path`` (or nowhere), then ``wait_ready``; a
    server that never answers is stopped before the error reaches the caller."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    try:
        wait_ready(proc)
    except BaseException:
        stop(proc)
        raise
    return proc


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL after ``timeout``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
