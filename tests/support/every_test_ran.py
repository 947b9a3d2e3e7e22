"""A pytest plugin (``tests/conftest.py`` loads it) that fails a green session in which
fewer tests ran than were collected.

pytest-xdist's scope-based schedulers (``--dist loadscope``/``loadgroup``) key on node ids, and
a plugin may give several tests one node id (schemathesis does, one per API operation): all but
one of them then never run, and the session still ends green. Counted on the process that
reports (the xdist controller, or the only process): every test that runs ends in exactly one
report that is its outcome, the call's, or the setup's when the setup did not pass.
"""

from __future__ import annotations

import pytest

_outcomes = 0


def is_outcome(report: pytest.TestReport) -> bool:
    """Whether ``report`` is the one that says how its test ended: the call's, or the setup's
    when the setup did not pass (a skip, an error), so the test had no call."""
    return report.when == "call" or (report.when == "setup" and not report.passed)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _outcomes  # one session per process, and the hook is given no config
    if is_outcome(report):
        _outcomes += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput") or config.option.collectonly or exitstatus != 0:
        return  # a worker's reports are counted by the controller; a red run says so already
    missing = session.testscollected - _outcomes
    if missing > 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"{missing} of {session.testscollected} collected tests never "
                                "ran (tests/support/every_test_ran.py)", red=True, bold=True)
