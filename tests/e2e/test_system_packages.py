"""The Debian packages some targets need are installed on demand, from nothing: as root with
apt-get, once; as a normal user with a one-line instruction instead. apt-get and id are stand-ins
here (a PATH of their own), so the test needs neither the network nor a machine without them."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TARGETS = [
    ("_stunnel", "stunnel4", ("stunnel4",)),
    ("_chromium", "chromium chromium-driver", ("chromium", "chromedriver")),
    ("_wrk", "wrk", ("wrk",)),
]


def _script(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/bash\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _machine(tmp_path: Path, uid: int, tools: tuple[str, ...]) -> Path:
    """A PATH holding only `id` (answering ``uid``) and an apt-get that logs its arguments and
    makes ``tools`` appear when it installs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _script(bin_dir / "id", f"echo {uid}")
    made = "; ".join(f"printf '#!/bin/bash\\n' > {bin_dir / t}; /bin/chmod +x {bin_dir / t}"
                     for t in tools)
    _script(bin_dir / "apt-get",
            f'echo "$DEBIAN_FRONTEND $*" >> {tmp_path / "apt.log"}\n'
            f'if [ "$1" = install ]; then {made}; fi')
    return bin_dir


def _make(target: str, bin_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["/usr/bin/make", "-s", "--no-print-directory", target],
                          cwd=REPO, env={"PATH": str(bin_dir), "HOME": str(bin_dir)},
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("target", "packages", "tools"), TARGETS)
def test_root_gets_the_packages_installed_once(tmp_path, target, packages, tools):
    bin_dir = _machine(tmp_path, 0, tools)
    first = _make(target, bin_dir)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "apt.log").read_text().splitlines() == [
        " update -qq", f"noninteractive install -y -qq {packages}"]
    assert all((bin_dir / tool).exists() for tool in tools)
    again = _make(target, bin_dir)  # there now: nothing to do
    assert again.returncode == 0, again.stderr
    assert len((tmp_path / "apt.log").read_text().splitlines()) == 2


@pytest.mark.parametrize(("target", "packages", "tools"), TARGETS)
def test_a_normal_user_is_told_in_one_line_how_to_install_them(tmp_path, target, packages,
                                                                tools):
    result = _make(target, _machine(tmp_path, 1000, tools))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("make: ***"), result.stderr  # make's own
    assert f"apt-get install {packages}" in lines[0]
    assert not (tmp_path / "apt.log").exists()
