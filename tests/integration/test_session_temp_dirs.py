"""The servers' account keeps its way into the session's temporary directories
(``tests/support/own_basetemp.py``), whatever other pytest sessions do meanwhile.

Under root that account is another one, which pytest would lock out; under a normal user it
is that user, and the same check holds.
"""

from __future__ import annotations

import subprocess
import sys


def test_another_pytest_session_starting_leaves_the_server_account_its_way_in(
        tmp_path, pg_system_user):
    from order_local import machine

    account = machine.server_account(pg_system_user)
    machine.allow_search(tmp_path)  # what prepare_data_dir does for a server's data
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "test_inner.py").write_text("def test_uses_a_temporary_directory(tmp_path):\n"
                                         "    pass\n")
    # As tests/unit/test_every_test_ran.py does: a session of pytest's defaults, which
    # resets $TMPDIR/pytest-of-root to 0700 as it starts.
    started = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                             cwd=inner, capture_output=True, text=True, timeout=120,
                             check=False)
    assert started.returncode == 0, started.stdout[-2000:]
    reach = subprocess.run(["test", "-x", str(tmp_path)], check=False,
                           **account.subprocess_kwargs())
    assert reach.returncode == 0, f"{account.name} cannot pass through to {tmp_path}"
