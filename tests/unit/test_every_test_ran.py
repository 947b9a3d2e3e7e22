"""tests/support/every_test_ran.py: a green session must have run every test it collected."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.every_test_ran import is_outcome

REPO = Path(__file__).resolve().parents[2]

# Two tests of which the second is collected twice under one node id, as schemathesis does
# with the operations of one fuzz test.
_CONFTEST = """
pytest_plugins = ["tests.support.every_test_ran"]

def pytest_collection_modifyitems(items):
    items.append(items[1])
"""
_TESTS = """
def test_once():
    pass

def test_twice():
    pass
"""


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text(textwrap.dedent(_CONFTEST))
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(_TESTS))
    return subprocess.run(
        # Its temporary files in ours: a session of pytest's defaults resets the mode of
        # $TMPDIR/pytest-of-<user> (tests/support/own_basetemp.py says why that matters).
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         f"--basetemp={tmp_path / 'basetemp'}", *args],
        check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)})


def test_a_run_of_every_collected_test_passes(tmp_path):
    result = _pytest(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "3 passed" in result.stdout


def test_a_green_run_that_left_tests_out_fails_and_says_how_many(tmp_path):
    # loadscope runs one test per node id: the duplicate never runs.
    result = _pytest(tmp_path, "-n", "2", "--dist", "loadscope")
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "1 of 3 collected tests never ran" in result.stdout


def test_xdist_default_scheduling_runs_them_all(tmp_path):
    result = _pytest(tmp_path, "-n", "2")
    assert result.returncode == 0, result.stdout
    assert "3 passed" in result.stdout


def test_collecting_only_is_not_a_run(tmp_path):
    result = _pytest(tmp_path, "--collect-only")
    assert result.returncode == 0, result.stdout


def _report(when: str, outcome: str) -> pytest.TestReport:
    return pytest.TestReport("t.py::test", ("t.py", 0, "test"), {}, outcome, None, when)


def test_a_test_ends_in_one_outcome_report_whichever_phase_ends_it():
    # Passed: setup and teardown pass, the call is the outcome.
    assert [is_outcome(_report(w, "passed")) for w in ("setup", "call", "teardown")] == [
        False, True, False]
    # Skipped or failed in setup: there is no call, so the setup's report is the outcome.
    assert is_outcome(_report("setup", "skipped"))
    assert is_outcome(_report("setup", "failed"))
    # A failed teardown comes after the call's outcome: not a second one.
    assert not is_outcome(_report("teardown", "failed"))
