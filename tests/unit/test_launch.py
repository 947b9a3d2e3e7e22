"""``order-platform <role>``: the image's entrypoint starts each process of the catalogue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from order_platform import launch
from order_platform.processes import DEPLOYED, PROCESSES, Kind

DOCKERFILE = Path(__file__).resolve().parents[2] / "services" / "Dockerfile"


@pytest.fixture
def exec_calls(monkeypatch):
    """What ``main`` would exec, instead of exec'ing it."""
    calls = []
    monkeypatch.setattr(launch.os, "execve", lambda path, argv, env: calls.append((argv, env)))
    return calls


@pytest.mark.parametrize("role", [p.role for p in PROCESSES.values() if p.kind is Kind.API])
def test_an_api_runs_gunicorn_with_the_catalogue_port_and_app(role, exec_calls, monkeypatch):
    monkeypatch.delenv("PORT", raising=False)
    assert launch.main([role]) == 0
    (argv, env), = exec_calls
    proc = PROCESSES[role]
    assert argv[1:5] == ["-m", "gunicorn", "-c", launch.GUNICORN_CONFIG]
    assert argv[argv.index("--bind") + 1] == f"0.0.0.0:{proc.port}"
    assert argv[-1] == proc.entry
    assert env[launch.PROCESS_ENV] == role


def test_an_api_port_can_be_moved_with_port(exec_calls, monkeypatch):
    monkeypatch.setenv("PORT", "9999")
    launch.main(["read-api"])
    argv = exec_calls[0][0]
    assert argv[argv.index("--bind") + 1] == "0.0.0.0:9999"


@pytest.mark.parametrize("role", [p.role for p in PROCESSES.values() if p.kind is not Kind.API])
def test_other_processes_run_their_module_with_the_arguments(role, exec_calls):
    launch.main([role, "peek", "--max", "3"])
    argv = exec_calls[0][0]
    assert argv[1:] == ["-m", PROCESSES[role].entry, "peek", "--max", "3"]


def test_an_unknown_role_is_a_usage_error_naming_every_role(capsys, exec_calls):
    assert launch.main(["bogus"]) == launch.USAGE_EXIT
    assert launch.main([]) == launch.USAGE_EXIT
    assert exec_calls == []
    usage = capsys.readouterr().err
    assert all(role in usage for role in PROCESSES)


def test_every_entry_of_the_catalogue_exists():
    import importlib

    for proc in PROCESSES.values():
        module, _, factory = proc.entry.partition(":")
        loaded = importlib.import_module(module)
        if factory:
            assert callable(getattr(loaded, factory.removesuffix("()")))
        elif hasattr(loaded, "__path__"):  # a package: python -m runs its __main__
            assert callable(importlib.import_module(f"{module}.__main__").main)
        else:
            assert callable(loaded.main)


def test_the_image_starts_processes_through_the_launcher_as_a_numeric_non_root_user():
    dockerfile = DOCKERFILE.read_text()
    assert dockerfile.count("\nFROM ") >= 2, "multi-stage build"
    assert re.search(r'^ENTRYPOINT \["order-platform"\]$', dockerfile, re.M)
    user_lines = [ln for ln in dockerfile.splitlines() if ln.startswith("USER ")]
    uid = user_lines[-1].split()[1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 10000
    exposed = {int(p) for ln in dockerfile.splitlines() if ln.startswith("EXPOSE ")
               for p in ln.split()[1:]}
    assert exposed == {p.probe_port for p in DEPLOYED}
