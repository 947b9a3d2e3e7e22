"""The backing servers' processes (the AWS emulator, the cache): started in a session of their
own, so that their owner stops them, not a Ctrl-C meant for the supervisor."""

from __future__ import annotations

import signal
import subprocess
import sys
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


def unwind_on_sigterm() -> None:
    """Make SIGTERM unwind through ``finally`` as Ctrl-C does: a process stopped with ``kill``
    then stops what it started (a platform, a benchmark's servers) instead of leaving it
    running."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
