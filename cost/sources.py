"""Where a stack's resources come from: this checkout, or the program at another git ref."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from infra.simulation import REPO_ROOT, SimulatedResource, StackRun, run_stack, stack_names

ORDERS_KEY = "order-platform:ordersPerSecond"
_PROGRAM_PATHS = ("infra", "services", "Pulumi.yaml")
_FIELDS = ("type", "name", "urn", "inputs", "outputs", "parent", "provider", "custom", "id")
_DUMP = """
import json, sys
stack = sys.argv[1]
from infra.simulation import run_stack
run = run_stack(stack)
fields = {fields!r}
print("\\n" + json.dumps({{"config": run.config, "resources": [
    {{key: getattr(r, key, None) for key in fields}} for r in run.resources]}}, default=str))
"""


class SourceError(RuntimeError):
    """A stack or git ref that cannot be simulated; the message says why."""


def current(stack: str) -> StackRun:
    """The program of this checkout for ``stack``."""
    if stack not in stack_names():
        raise SourceError(f"no Pulumi.{stack}.yaml: stacks are {', '.join(stack_names())}")
    return run_stack(stack)


def at_ref(stack: str, ref: str, repo: Path = REPO_ROOT) -> StackRun:
    """The program and stack file as they were at git ``ref``, simulated in a process of its own.

    The ref's ``infra/``, ``services/`` and Pulumi files are extracted to a temporary directory
    and run there with this venv, so the estimate prices that ref's resources with today's table.
    """
    files = [*_PROGRAM_PATHS, f"Pulumi.{stack}.yaml"]
    archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", ref, *files],  # noqa: S603, S607
                             capture_output=True, check=False, timeout=120)
    if archive.returncode:
        raise SourceError(f"git ref {ref!r} has no {', '.join(files)}: "
                          f"{archive.stderr.decode(errors='replace').strip()}")
    with tempfile.TemporaryDirectory(prefix="cost-ref-") as directory:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(directory, filter="data")
        # The ref's infra and order_platform come first on the path, before this checkout's.
        ref_path = os.pathsep.join([directory, os.path.join(directory, "services")])
        result = subprocess.run(  # noqa: S603 - this venv's python on a fixed script
            [sys.executable, "-c", _DUMP.format(fields=_FIELDS), stack],
            capture_output=True, text=True, check=False, timeout=600, cwd=directory,
            env={**os.environ, "PYTHONPATH": ref_path})
    if result.returncode:
        raise SourceError(f"the program at {ref!r} failed for {stack}: {result.stderr[-2000:]}")
    dumped = json.loads(result.stdout.rsplit("\n", 1)[-1] or result.stdout.strip().splitlines()[-1])
    resources = [SimulatedResource(**{k: r[k] for k in _FIELDS}) for r in dumped["resources"]]
    return StackRun(stack=stack, resources=resources, outputs={}, config=dumped["config"])


def resolve(stack: str, other: str) -> StackRun:
    """``other`` as a stack name if there is such a stack file, else as a git ref of ``stack``."""
    return current(other) if other in stack_names() else at_ref(stack, other)


def with_traffic_of(run: StackRun, reference: StackRun) -> StackRun:
    """``run``, with ``reference``'s ordersPerSecond if its config predates the setting."""
    if ORDERS_KEY not in run.config and ORDERS_KEY in reference.config:
        run.config[ORDERS_KEY] = reference.config[ORDERS_KEY]
    return run
