"""`make load`'s command line, which takes the local platform's port flags (order_local)."""

from __future__ import annotations

import socket
import subprocess

import pytest

from loadtest import run


def test_the_runner_refuses_a_remote_target_before_any_connection(monkeypatch, tmp_path, capsys):
    def no_traffic(*args, **kwargs):
        raise AssertionError("the refused run tried to connect or start locust")

    monkeypatch.setattr(socket.socket, "connect", no_traffic)
    monkeypatch.setattr(socket, "create_connection", no_traffic)
    monkeypatch.setattr(socket, "getaddrinfo", no_traffic)
    monkeypatch.setattr(subprocess, "run", no_traffic)
    monkeypatch.setattr(subprocess, "Popen", no_traffic)
    monkeypatch.setenv("API_URL", "http://192.0.2.1")
    out = tmp_path / "load"
    assert run.main(["--duration", "5s", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("load: refusing to load http://192.0.2.1:") and err.count("\n") == 1
    assert not out.exists()


def test_durations():
    assert [run.seconds(t) for t in ("30s", "30", "2m", "1m30s", "1h")] == [30, 30, 120, 90,
                                                                          3600]
    for bad in ("", "0s", "2h", "soon", "-5s"):
        with pytest.raises(Exception, match="not"):
            run.seconds(bad)
