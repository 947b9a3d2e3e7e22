"""``order-platform <role> [args...]``: start one process of the catalogue.

The image's entrypoint, and the one place that knows how a process is started: the local
platform, the tests and the benchmarks build their commands with ``command()`` too, so a
process added to ``processes.py`` starts the same way everywhere.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from order_platform.processes import PROCESSES, Kind, Process, process

GUNICORN_CONFIG = "python:order_platform.entrypoints.web.gunicorn_conf"
DRAIN_MODULE = "order_platform.entrypoints.web.draining"
PROCESS_ENV = "ORDER_PLATFORM_PROCESS"
"""Tells gunicorn's config which API it serves (the grace period and port are per process)."""
USAGE_EXIT = 64  # EX_USAGE


def command(proc: Process, *, python: str = sys.executable, host: str = "0.0.0.0",  # noqa: S104
            port: int | None = None, args: Sequence[str] = ()) -> list[str]:
    """The argv that runs ``proc``: gunicorn on ``host:port`` for an API, ``-m`` otherwise."""
    if proc.kind is Kind.API:
        return [python, "-m", "gunicorn", "-c", GUNICORN_CONFIG,
                "--bind", f"{host}:{port or proc.port}", proc.entry, *args]
    return [python, "-m", proc.entry, *args]


def drain_command(proc: Process, *, python: str = sys.executable) -> list[str]:
    """The argv that drains a running API for its ``drain_seconds``: the pod's preStop."""
    if proc.kind is not Kind.API:
        raise ValueError(f"{proc.role} takes no connections: there is nothing to drain")
    return [python, "-m", DRAIN_MODULE, str(proc.drain_seconds)]


def environment(proc: Process) -> dict[str, str]:
    """Variables a process of the catalogue is started with, besides the config contract."""
    return {PROCESS_ENV: proc.role}


def main(argv: Sequence[str] | None = None) -> int:
    """Replace this process with the one named by the first argument."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in PROCESSES:
        print(f"usage: order-platform <{'|'.join(PROCESSES)}> [args...]", file=sys.stderr)
        return USAGE_EXIT
    proc = process(argv[0])
    port = int(os.environ["PORT"]) if proc.kind is Kind.API and os.environ.get("PORT") else None
    argv_out = command(proc, port=port, args=argv[1:])
    os.execve(argv_out[0], argv_out, {**os.environ, **environment(proc)})  # noqa: S606
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
