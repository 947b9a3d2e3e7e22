"""The suite's own system accounts (root only): one per test session, named after it, and the
accounts of sessions that were killed before they could remove theirs."""

from __future__ import annotations

import os
import pwd
import uuid
from collections.abc import Callable, Iterable

PREFIX = "op_test_"
"""Test accounts are ``op_test_<pid of the session>_<random>``."""
_MAX_PID = 2**22
"""Linux's largest pid: a larger number is the random part of an older name, no session."""


def session_account() -> str:
    """A fresh account name for this session (it does not exist yet)."""
    return f"{PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}"


def orphaned(names: Iterable[str], *, pid_alive: Callable[[int], bool],
             running_as: set[str]) -> list[str]:
    """The test accounts whose session is gone (its pid runs no more) and that no process
    runs as: what a SIGKILLed or restarted session left. A live session keeps its own."""
    found = []
    for name in names:
        pid = name.removeprefix(PREFIX).split("_", 1)[0]
        if (name.startswith(PREFIX) and pid.isdigit()
                and (int(pid) > _MAX_PID or not pid_alive(int(pid)))
                and name not in running_as):
            found.append(name)
    return found


def remove_orphans(remove: Callable[[str], None]) -> list[str]:
    """Remove (with ``remove``) the orphaned test accounts of this machine; their names."""
    import psutil

    running_as = {proc.info["username"] for proc in psutil.process_iter(["username"])}
    names = orphaned((entry.pw_name for entry in pwd.getpwall()),
                     pid_alive=psutil.pid_exists, running_as=running_as)
    for name in names:
        remove(name)
    return names
