"""`make dlq ARGS=...`: order-platform dlq with the contract a running `make dev` wrote."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from order_platform import topology
from tests.support.processes import REPO

pytestmark = pytest.mark.e2e

VALIDATION = topology.STOCK_VALIDATION_QUEUE


def _make_dlq(local_dir, args: str) -> subprocess.CompletedProcess:
    # -o: never (re)install the venv from a test; the suite already runs in it.
    return subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "dlq", f"ARGS={args}",
         f"LOCAL_DIR={local_dir}"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


def test_make_dlq_runs_the_tool_with_the_local_contract(pipeline, tmp_path):
    # What `make dev` writes: shell-quoted KEY=VALUE lines (the secret ARN has colons).
    (tmp_path / "contract.env").write_text(
        "".join(f"{k}={shlex.quote(v)}\n" for k, v in sorted(pipeline.env.items())))
    pipeline.sqs().send_message(QueueUrl=pipeline.queue_url(VALIDATION, "dlq"), MessageBody="x")

    done = _make_dlq(tmp_path, "depths")

    assert done.returncode == 0, done.stderr
    rows = {tuple(cols[:2]): (int(cols[2]), cols[-1])
            for cols in (line.split() for line in done.stdout.splitlines()[1:])}
    assert rows[(VALIDATION.key, "dlq")] == (1, VALIDATION.dlq_name(pipeline.prefix))

    peeked = _make_dlq(tmp_path, f"peek {VALIDATION.key}")
    assert peeked.returncode == 0, peeked.stderr
    assert '"body": "x"' in peeked.stdout


def test_make_dlq_without_a_running_platform_says_what_to_do(tmp_path):
    done = _make_dlq(tmp_path, "depths")
    assert done.returncode != 0
    assert "make dev" in done.stderr
