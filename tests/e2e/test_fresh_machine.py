"""A newcomer's first `make dev` / `make test` on a fresh machine, as root and as a normal user.

Each test starts from nothing it did not make itself: a system user that does not exist yet,
a data directory of its own, ports found free, and it removes what it made.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

import psutil
import pytest
import requests

from order_local import machine, pg_binaries, postgres
from order_local.ports import Ports
from order_local.runner import LocalPlatformProcess
from tests.support import accounts
from tests.support.platform import free_port

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
AS_ROOT = os.geteuid() == 0
UNPRIVILEGED = "nobody"


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def _tree_uids(pid: int) -> set[int]:
    """The real uids of a process and its descendants (ignoring any that exit meanwhile)."""
    root = psutil.Process(pid)
    uids = set()
    for proc in (root, *root.children(recursive=True)):
        with contextlib.suppress(psutil.NoSuchProcess):
            uids.add(proc.uids().real)
    return uids


def _race_to_create(user: str, racers: int) -> set[int]:
    """The uids that ``racers`` processes creating ``user`` at once each got back."""
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        from order_local import machine
        print(machine.ensure_system_user({user!r}).pw_uid)""")],
        stdout=subprocess.PIPE, text=True) for _ in range(racers)]
    uids = {int(p.communicate(timeout=60)[0]) for p in procs}
    assert [p.returncode for p in procs] == [0] * racers
    return uids


def test_postgres_gets_the_account_it_needs_from_nothing(tmp_path):
    """Root: a system user that does not exist yet is created (by racing processes), owns the
    data, runs the server, and is removed. A normal user: nothing is created, we run it."""
    user = f"op_fresh_{uuid.uuid4().hex[:8]}"
    assert not _exists(user)
    passwd_before = _accounts_but_the_suites()
    server = postgres.LocalPostgres(data_dir=tmp_path / "pgdata", port=free_port(),
                                    superuser_password=uuid.uuid4().hex, system_user=user)
    try:
        if AS_ROOT:
            # `make test` and `make dev` may create the user at the same moment. useradd
            # alone loses this race often (two "successes", two uids), so race a few times.
            for name in (f"{user}_a", f"{user}_b", user):
                try:
                    assert _race_to_create(name, racers=6) == {pwd.getpwnam(name).pw_uid}
                finally:
                    if name != user:
                        machine.remove_system_user(name)
        proc = server.start()
        try:
            expected = pwd.getpwnam(user).pw_uid if AS_ROOT else os.geteuid()
            assert _tree_uids(proc.pid) == {expected}
            assert (tmp_path / "pgdata").stat().st_uid == expected
            assert server.scalar("SELECT 1") == 1
        finally:
            postgres.stop(proc)
        if not AS_ROOT:
            assert _accounts_but_the_suites() == passwd_before  # no useradd
    finally:
        if AS_ROOT:
            machine.remove_system_user(user)
    assert not _exists(user)


@pytest.fixture
def unprivileged_home():
    """A data directory owned by the unprivileged user; as root, the interpreter and the
    clone made reachable for it (search bits only).

    The search bits stay: they are the ones every start as root adds for the server account
    (``machine.prepare_binaries``: the virtualenv is in the clone), and another worker's
    PostgreSQL may be relying on them by the time this test ends.
    """
    base = Path(tempfile.mkdtemp(prefix="op-unprivileged-"))
    if AS_ROOT:
        entry = pwd.getpwnam(UNPRIVILEGED)
        os.chown(base, entry.pw_uid, entry.pw_gid)
        for path in (Path(os.path.realpath(sys.executable)).parent, REPO):
            machine.allow_search(path)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_the_whole_platform_starts_for_an_unprivileged_user(unprivileged_home):
    ports = Ports.free()
    passwd_before = _accounts_but_the_suites()
    run_as = None
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if AS_ROOT:
        entry = pwd.getpwnam(UNPRIVILEGED)
        run_as = (entry.pw_uid, entry.pw_gid)
        env["HOME"] = entry.pw_dir  # /nonexistent: nothing may need a home directory
    owner = run_as[0] if run_as else os.geteuid()
    data_dir = unprivileged_home / "local"
    platform = LocalPlatformProcess(data_dir, ports, env=env, run_as=run_as)
    try:
        platform.wait_for()
        for url in (platform.write_url, platform.read_url):
            assert requests.get(f"{url}/readyz", timeout=5).json() == {"status": "ready"}
            assert requests.get(f"{url}/docs", timeout=5).status_code == 200
        assert requests.get(f"{platform.read_url}/products/KB-001", timeout=5).status_code == 200
        # Every process of the platform, PostgreSQL included, runs as that user.
        assert _tree_uids(platform.proc.pid) == {owner}
    finally:
        code = platform.interrupt()
    assert code == 0, platform.output()[-3000:]
    # No useradd, no chown: everything it wrote belongs to that user.
    assert _accounts_but_the_suites() == passwd_before
    assert {p.stat().st_uid for p in data_dir.rglob("*")} == {owner}


def _accounts_but_the_suites() -> list[str]:
    """/etc/passwd without the test sessions' own accounts, which another session on this
    machine (another xdist worker, another checkout's suite) adds and removes at any time."""
    return [line for line in Path("/etc/passwd").read_text().splitlines()
            if not line.startswith(accounts.PREFIX)]


def _order_local(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "order_local", "up", *args],
                          check=False, capture_output=True, text=True, timeout=timeout,
                          cwd=REPO)


def test_a_taken_port_stops_the_platform_at_once_with_one_line_naming_it(tmp_path):
    ports = Ports.free()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports["read-api"]))
        holder.listen()
        result = _order_local("--data-dir", str(tmp_path / "local"), *ports.args())
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {ports['read-api']} on 127.0.0.1 (the read-api) is in use" in lines[0]
    assert f"by pid {os.getpid()} " in lines[0]  # this test holds it
    assert "--read-api-port" in lines[0]
    assert not (tmp_path / "local" / "pgdata").exists()  # refused before starting anything


def test_a_data_directory_of_another_postgresql_major_is_refused_with_one_line(tmp_path):
    old = tmp_path / "local" / "pgdata"
    old.mkdir(parents=True)
    (old / "PG_VERSION").write_text("16\n")
    result = _order_local("--data-dir", str(tmp_path / "local"), *Ports.free().args())
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"holds a PostgreSQL 16 cluster, but this platform runs PostgreSQL " \
           f"{pg_binaries.server_major_version()}" in lines[0]
    assert "--data-dir" in lines[0]


def _make_install_with(tmp_path: Path, sitecustomize: str) -> subprocess.CompletedProcess:
    """`make install` with an interpreter altered at start-up by ``sitecustomize``."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent(sitecustomize))
    base_python = getattr(sys, "_base_executable", sys.executable)
    python = f"env PYTHONPATH={site} {base_python}"
    return subprocess.run(["make", "-s", "install", f"PYTHON={python}",
                           f"VENV={tmp_path / 'venv'}"],
                          check=False, capture_output=True, text=True, timeout=120, cwd=REPO)


def test_make_refuses_an_unsupported_python_in_one_line(tmp_path):
    result = _make_install_with(tmp_path, """
        import sys
        sys.version_info = (3, 9, 18, "final", 0)
    """)
    assert result.returncode != 0
    first = result.stderr.strip().splitlines()[0]
    assert "is Python 3.9; order-platform needs Python 3.11 or 3.12" in first
    assert "PYTHON=python3.11" in first
    assert not (tmp_path / "venv").exists()


def test_make_says_how_to_get_the_venv_module_when_it_is_missing(tmp_path):
    result = _make_install_with(tmp_path, """
        import sys

        class NoEnsurepip:  # Debian's python3 without python3-venv
            def find_spec(self, name, path=None, target=None):
                if name == "ensurepip":
                    raise ImportError("No module named 'ensurepip'")
                return None

        sys.meta_path.insert(0, NoEnsurepip())
    """)
    assert result.returncode != 0
    first = result.stderr.strip().splitlines()[0]
    assert "cannot create a virtual environment" in first
    assert "apt-get install python3.11-venv" in first
    assert not (tmp_path / "venv").exists()


def test_a_socket_directory_left_by_a_killed_server_does_not_stop_the_next(tmp_path,
                                                                          pg_system_user):
    server = postgres.LocalPostgres(data_dir=tmp_path / "pgdata", port=free_port(),
                                    superuser_password=uuid.uuid4().hex,
                                    system_user=pg_system_user)
    stale = server.socket_dir()
    stale.mkdir()
    # What a SIGKILLed server leaves: a lock file naming a pid that no longer runs, owned by
    # whoever ran it before (here another user, so only removing the directory clears it).
    lock = stale / f".s.PGSQL.{server.port}.lock"
    lock.write_text(f"{2**22 + 17}\n{server.data_dir}\n")
    if AS_ROOT:
        entry = pwd.getpwnam(UNPRIVILEGED)
        os.chown(stale, entry.pw_uid, entry.pw_gid)
        os.chown(lock, entry.pw_uid, entry.pw_gid)
        stale.chmod(0o1777)
    proc = server.start()
    try:
        assert server.scalar("SELECT 1") == 1
    finally:
        postgres.stop(proc)
    assert not stale.exists()

