"""tests/support/every_test_ran.py: a green session must have run every test it collected."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Two tests of which the second is collected twice under one node id, as schemathesis does
# with the operations of one fuzz test; and a skipped test, which counts as having run.
_CONFTEST = """
pytest_plugins = ["tests.support.every_test_ran"]

def pytest_collection_modifyitems(items):
    items.append(items[1])
"""
_TESTS = """
import pytest

def test_skipped():
    pytest.skip("counted: it ran and was skipped")

def test_twice():
    pass
"""


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text(textwrap.dedent(_CONFTEST))
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(_TESTS))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)})


def test_a_run_of_every_collected_test_passes(tmp_path):
    result = _pytest(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "2 passed, 1 skipped" in result.stdout


def test_a_green_run_that_left_tests_out_fails_and_says_how_many(tmp_path):
    # loadscope runs one test per node id: the duplicate never runs.
    result = _pytest(tmp_path, "-n", "2", "--dist", "loadscope")
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "1 of 3 collected tests never ran" in result.stdout


def test_xdist_default_scheduling_runs_them_all(tmp_path):
    result = _pytest(tmp_path, "-n", "2")
    assert result.returncode == 0, result.stdout
    assert "2 passed, 1 skipped" in result.stdout


def test_collecting_only_is_not_a_run(tmp_path):
    result = _pytest(tmp_path, "--collect-only")
    assert result.returncode == 0, result.stdout
