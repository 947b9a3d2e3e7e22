"""The process catalogue is the one place a process is declared: these fail when any of its
readers (the launcher, gunicorn's config) drifts from it. The local platform's side is guarded
in tests/localplatform/test_catalogue_readers.py, the Pulumi program's in tests/infra."""

from __future__ import annotations

import importlib

import pytest

from order_platform import launch, processes
from order_platform.processes import DEPLOYED, PROCESSES, Kind


def test_roles_and_ports_are_unique():
    assert len(PROCESSES) == len({p.role for p in PROCESSES.values()})
    probe_ports = [p.probe_port for p in DEPLOYED]
    assert None not in probe_ports
    assert len(probe_ports) == len(set(probe_ports))


def test_every_pod_outlives_its_process_shutdown_grace():
    for proc in PROCESSES.values():
        assert proc.termination_grace_seconds > proc.shutdown_grace_seconds, proc.role


def test_an_api_serves_its_probes_and_a_daemon_has_a_health_port():
    for proc in DEPLOYED:
        if proc.kind is Kind.API:
            assert proc.port and proc.health_port is None, proc.role
        else:
            assert proc.health_port and proc.port is None, proc.role


@pytest.mark.parametrize("api", [p for p in DEPLOYED if p.kind is Kind.API], ids=str)
def test_gunicorn_takes_port_and_grace_from_the_catalogue(api, monkeypatch):
    monkeypatch.setenv(launch.PROCESS_ENV, api.role)
    conf = importlib.reload(importlib.import_module("order_platform.entrypoints.web.gunicorn_conf"))
    assert conf.graceful_timeout == api.shutdown_grace_seconds
    assert conf.bind == [f"0.0.0.0:{api.port}"]


def test_the_catalogue_needs_only_the_standard_library():
    # The Pulumi program and the policy pack import it without the services' dependencies.
    with open(processes.__file__) as source:
        imported = {line.split()[1].split(".")[0] for line in source
                    if line.startswith(("import ", "from "))}
    assert imported <= {"__future__", "dataclasses", "enum", "types", "order_platform"}


def test_the_apis_gunicorn_opens_no_control_socket():
    # gunicorn keeps only the names it knows from a config module and ignores the rest, so a
    # misspelt setting would leave its control socket on without a word.
    from gunicorn.config import Config

    conf = importlib.reload(importlib.import_module("order_platform.entrypoints.web.gunicorn_conf"))
    cfg = Config()
    for name, value in vars(conf).items():
        if name in cfg.settings:
            cfg.set(name, value)
    assert cfg.control_socket_disable is True

