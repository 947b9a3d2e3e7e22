"""Checks made before the local platform starts anything, each failing with one line.

A newcomer's first `make dev` must not end in a traceback or a hang: a port that is taken
is found before PostgreSQL starts, and named with what holds it and the flag that moves it.
"""

from __future__ import annotations

import errno

import psutil

from order_local.machine import SetupError, bind_problem
from order_local.ports import LISTENERS, Ports

_MAX_COMMAND = 60
"""Enough of the holder's command line to recognise it, on one line."""


def check_ports_free(ports: Ports) -> None:
    """Raise SetupError naming the first port of ``ports`` that something already holds."""
    for listener in LISTENERS:
        port = ports[listener.name]
        for host in listener.hosts:
            problem = bind_problem(host, port)
            if problem is None:
                continue
            move = (f"move it with {listener.flag} <port> "
                    f"(make dev DEV_ARGS='{listener.flag} <port>')")
            if problem == errno.EADDRINUSE:
                raise SetupError(f"port {port} on {host} ({listener.what}) is in use"
                                 f"{port_holder(port)}; stop that, or {move}")
            raise SetupError(f"cannot listen on {host}:{port} ({listener.what}): "
                             f"{errno.errorcode.get(problem, problem)}; {move}")


def port_holder(port: int) -> str:
    """`` by pid N (name)`` for the process listening on ``port``, or ``""`` if unknowable.

    Another user's processes are invisible to a normal user; then we say nothing rather
    than guess.
    """
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.Error:
        return ""
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port \
                and conn.pid:
            try:
                command = " ".join(" ".join(psutil.Process(conn.pid).cmdline()).split())
            except psutil.Error:
                command = "?"
            if len(command) > _MAX_COMMAND:
                command = command[:_MAX_COMMAND - 3] + "..."
            return f" by pid {conn.pid} ({command})"
    return ""
