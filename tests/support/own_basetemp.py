"""Under root, a session's temporary directories in a directory of its own, not pytest's
``$TMPDIR/pytest-of-root``.

Under root the suite's PostgreSQL servers run as another account (``tests/support/accounts``)
with their data under the session's ``tmp_path``, so that account must be able to pass
through every parent directory (``order_local.machine.allow_search`` adds o+x where missing).
pytest takes that bit away again: every session that makes a temporary directory resets
``$TMPDIR/pytest-of-<user>`` to 0700 as it starts, and the suite starts such sessions
itself (``tests/unit/test_every_test_ran.py`` runs ``pytest -n 2``), as may anyone else on
the machine. A server that meets the reset mid-run fails with "Permission denied" on its own
files. A directory made for this session alone is one nobody tightens.

It is removed when the session passes, and kept (and named) when it fails, for the servers'
logs. An xdist worker is given its part of it by the controller; a normal user's servers run
as that user and need none of this.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

PREFIX = "order-platform-tests-"
_MADE = pytest.StashKey[Path]()


@pytest.hookimpl(tryfirst=True)  # before pytest's tmpdir plugin reads the option
def pytest_configure(config: pytest.Config) -> None:
    if os.geteuid() != 0 or config.option.basetemp is not None \
            or hasattr(config, "workerinput"):
        return
    made = Path(tempfile.mkdtemp(prefix=PREFIX))
    config.stash[_MADE] = made
    config.option.basetemp = str(made)


@pytest.hookimpl(trylast=True)  # after every_test_ran may have turned a green run red
def pytest_sessionfinish(session: pytest.Session) -> None:
    made = session.config.stash.get(_MADE, None)
    if made is None:
        return
    if session.exitstatus == 0:
        shutil.rmtree(made, ignore_errors=True)
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"temporary files of this session kept in {made}")
