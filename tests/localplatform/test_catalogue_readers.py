"""The local platform reads the process catalogue: one edit there reaches it, and gunicorn's
config, with nothing else changed (tests/unit/test_process_catalogue.py has the rest)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import textwrap

from order_local import ports, stack
from order_platform import launch
from order_platform.processes import DEPLOYED


def test_the_local_platform_runs_every_deployed_process_as_the_image_would():
    defaults = ports.Ports.defaults()
    commands = stack.service_commands(defaults)
    assert list(commands) == [p.role for p in DEPLOYED]
    for proc in DEPLOYED:
        shell, env = commands[proc.role]
        argv = launch.command(proc, host="127.0.0.1", port=defaults[proc.role])
        assert shell == f"exec {shlex.join(argv)}"
        assert env[launch.PROCESS_ENV] == proc.role
        if proc.health_port:
            assert env["HEALTH_PORT"] == str(proc.health_port)
    assert max(p.termination_grace_seconds for p in DEPLOYED) <= stack.STOP_GRACE_SECONDS
    listeners = {listener.name: listener.default for listener in ports.LISTENERS}
    assert listeners.items() >= {p.role: p.probe_port for p in DEPLOYED}.items()


# Run in a fresh interpreter: the catalogue is edited before any reader imports it, as an
# edit of processes.py would be.
_ONE_EDIT = textwrap.dedent("""
    import dataclasses, json, os
    import order_platform.processes as catalogue

    worker = dataclasses.replace(catalogue.WORKER, shutdown_grace_seconds=40, health_port=9191)
    write_api = dataclasses.replace(catalogue.WRITE_API, shutdown_grace_seconds=12, port=3100)
    auditor = catalogue.Process(role="auditor", kind=catalogue.Kind.DAEMON, description="new",
                                entry="order_platform.entrypoints.worker", health_port=9292)
    roles = {**catalogue.PROCESSES, "worker": worker, "write-api": write_api,
             "auditor": auditor}
    catalogue.WORKER, catalogue.WRITE_API = worker, write_api
    catalogue.PROCESSES = roles
    catalogue.DEPLOYED = tuple(p for p in roles.values() if p.deployed)

    os.environ["ORDER_PLATFORM_PROCESS"] = "write-api"
    from order_platform.entrypoints.web import gunicorn_conf
    from order_local import ports, stack
    commands = stack.service_commands(ports.Ports.defaults())
    print(json.dumps({
        "gunicorn": [gunicorn_conf.graceful_timeout, gunicorn_conf.bind],
        "local_roles": list(commands),
        "local_auditor_env": commands["auditor"][1],
        "local_grace": stack.STOP_GRACE_SECONDS,
        "listeners": {l.name: l.default for l in ports.LISTENERS},
    }))
""")


def test_one_edit_in_the_catalogue_reaches_every_reader():
    result = subprocess.run([sys.executable, "-c", _ONE_EDIT], capture_output=True, text=True,
                            timeout=60, check=True)
    seen = json.loads(result.stdout)
    assert seen["gunicorn"] == [12, ["0.0.0.0:3100"]]
    assert seen["local_roles"] == ["write-api", "read-api", "worker", "relay", "auditor"]
    assert seen["local_auditor_env"]["HEALTH_PORT"] == "9292"
    assert seen["local_grace"] == 45
    assert seen["listeners"]["worker"] == 9191
    assert seen["listeners"]["write-api"] == 3100
    assert seen["listeners"]["auditor"] == 9292
