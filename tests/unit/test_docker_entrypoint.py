"""The image's entrypoint runs the right program for each role (with stand-in binaries)."""

import os
import subprocess
from pathlib import Path

import pytest

ENTRYPOINT = Path(__file__).resolve().parents[2] / "services" / "docker-entrypoint.sh"


@pytest.fixture
def fake_bin(tmp_path):
    """A PATH whose programs print their own name and arguments instead of running."""
    for name in ("gunicorn", "order-worker", "order-relay", "order-migrate", "order-dlq"):
        script = tmp_path / name
        script.write_text(f'#!/bin/sh\necho {name} "$@"\n')
        script.chmod(0o755)
    return tmp_path


def run(fake_bin, *args, env=None):
    return subprocess.run(["sh", str(ENTRYPOINT), *args], check=False, capture_output=True,
                          text=True,
                          env={"PATH": f"{fake_bin}:/usr/bin:/bin", **(env or {})})


@pytest.mark.parametrize(("role", "program", "app"), [
    ("write-api", "gunicorn", "write_api.app:create_app()"),
    ("read-api", "gunicorn", "read_api.app:create_app()"),
])
def test_api_roles_run_gunicorn_on_their_port(fake_bin, role, program, app):
    out = run(fake_bin, role)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(program)
    assert app in out.stdout
    assert "--bind 0.0.0.0:300" in out.stdout


def test_port_can_be_overridden(fake_bin):
    assert "0.0.0.0:9999" in run(fake_bin, "read-api", env={"PORT": "9999"}).stdout


@pytest.mark.parametrize(("role", "program"), [
    ("worker", "order-worker"), ("relay", "order-relay"), ("migrate", "order-migrate"),
])
def test_process_roles_exec_their_console_script(fake_bin, role, program):
    assert run(fake_bin, role).stdout.strip() == program


def test_dlq_role_passes_arguments_through(fake_bin):
    assert run(fake_bin, "dlq", "peek", "--limit", "3").stdout.strip() == \
        "order-dlq peek --limit 3"


def test_unknown_role_is_a_usage_error(fake_bin):
    out = run(fake_bin, "bogus")
    assert out.returncode == 64
    assert "usage" in out.stderr


def test_dockerfile_runs_as_a_numeric_non_root_user():
    dockerfile = (ENTRYPOINT.parent / "Dockerfile").read_text()
    assert dockerfile.count("\nFROM ") >= 2, "multi-stage build"
    user_lines = [ln for ln in dockerfile.splitlines() if ln.startswith("USER ")]
    assert user_lines and user_lines[-1].split()[1].split(":")[0] not in ("0", "root")
    assert os.access(ENTRYPOINT, os.X_OK)
