"""An API drained under load loses no request: the sequence the cluster runs, on loopback.

Two write APIs (real gunicorn, the catalogue's command) behind ``tests.support.balancer``, which
sends each new connection to a backend whose ``/readyz`` answered 200, as kube-proxy and the NLB
do. Clients keep their connections alive and place orders without pause. Then backend A is
stopped the way the kubelet stops a pod: its preStop (the catalogue's drain command, shortened)
runs to the end, and only then SIGTERM. Not one request may fail or be reset.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter

import pytest
import requests

from order_platform import launch
from order_platform.processes import WRITE_API
from tests.support.balancer import Balancer
from tests.support.platform import free_port
from tests.support.processes import command, environment, running
from tests.support.tokens import bearer

pytestmark = pytest.mark.e2e

CLIENTS = 6
PAUSE_SECONDS = 0.02
"""Between a client's orders: a steady load (about 200 orders/s in all), not a flood that
would make the shared PostgreSQL of a busy 2-core machine miss its 6 s deadline."""
DRAIN_SECONDS = 3
"""The preStop's wait here: many balancer polls (0.2 s), as the cluster's 15 s are many
kube-proxy syncs."""
WARM_REQUESTS = 200
"""Orders placed through the balancer before the drain starts."""


@pytest.fixture
def two_apis(platform_env, tmp_path):
    """Write APIs A and B, each with its own temp dir (a pod's /tmp), and their logs."""
    ports, env = (free_port(), free_port()), {**platform_env, "LOG_LEVEL": "INFO"}
    dirs = [tmp_path / "a", tmp_path / "b"]
    for path in dirs:
        path.mkdir()
    with running(command(WRITE_API, ports[0]),
                 {**env, **environment(WRITE_API), "TMPDIR": str(dirs[0])},
                 f"http://127.0.0.1:{ports[0]}/readyz", dirs[0] / "api.log") as a, \
            running(command(WRITE_API, ports[1]),
                    {**env, **environment(WRITE_API), "TMPDIR": str(dirs[1])},
                    f"http://127.0.0.1:{ports[1]}/readyz", dirs[1] / "api.log"):
        yield {"a": a, "ports": ports, "tmp": dirs, "logs": [d / "api.log" for d in dirs],
               "env": env}


class Load:
    """``CLIENTS`` keep-alive clients placing orders until told to stop."""

    def __init__(self, url: str, sku: str, auth: dict[str, str]) -> None:
        self.url, self.sku, self.auth = url, sku, auth
        self.outcomes: Counter[str] = Counter()
        self.failures: list[str] = []
        self.request_ids: set[str] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, daemon=True)
                         for _ in range(CLIENTS)]

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    @property
    def sent(self) -> int:
        return sum(self.outcomes.values())

    def _client(self) -> None:
        session = requests.Session()
        session.headers.update(self.auth)
        body = {"items": [{"sku": self.sku, "quantity": 1}]}
        while not self._stop.is_set():
            request_id = f"drain-{uuid.uuid4().hex}"
            try:
                response = session.post(f"{self.url}/orders", json=body, timeout=30,
                                        headers={"X-Request-ID": request_id})
                outcome = str(response.status_code)
                failed = response.status_code != 202
            except requests.RequestException as exc:
                outcome, failed = type(exc).__name__, True
            with self._lock:
                self.outcomes[outcome] += 1
                self.request_ids.add(request_id)
                if failed:
                    self.failures.append(f"{request_id}: {outcome}")
            self._stop.wait(PAUSE_SECONDS)


def served_by(log_path, request_ids: set[str]) -> int:
    """Orders of this load that the API writing ``log_path`` answered."""
    count = 0
    for raw in log_path.read_text().splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        count += line.get("request_id") in request_ids and line.get("path") == "/orders"
    return count


def wait_until(condition, what: str, bound: float = 60) -> None:
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, f"waited {bound}s for {what}"
        time.sleep(0.05)


def test_a_drained_api_under_load_loses_no_request(two_apis, capsys):
    port_a, port_b = two_apis["ports"]
    sku = f"DRAIN-{uuid.uuid4().hex[:10]}"
    auth = bearer(two_apis["env"], "drain", "admin")
    created = requests.post(f"http://127.0.0.1:{port_b}/products", timeout=10, headers=auth,
                            json={"sku": sku, "name": "Drain test", "price_cents": 100,
                                  "stock": 1_000_000})
    assert created.status_code == 201, created.text
    balancer = Balancer([port_a, port_b]).start()
    load = Load(f"http://127.0.0.1:{balancer.port}", sku, auth).start()
    try:
        wait_until(lambda: load.sent >= WARM_REQUESTS, "the load to warm up")
        before_drain = served_by(two_apis["logs"][0], load.request_ids)
        # The kubelet: preStop to the end, then SIGTERM.
        drain = dataclasses.replace(WRITE_API, drain_seconds=DRAIN_SECONDS)
        prestop_started = time.monotonic()
        subprocess.run(launch.drain_command(drain, python=sys.executable), check=True,
                       env={**os.environ, "TMPDIR": str(two_apis["tmp"][0])},
                       timeout=DRAIN_SECONDS + 30)
        unready_seen = balancer.backends[0].went_unready.is_set()
        sigterm_at = time.monotonic()
        two_apis["a"].send_signal(signal.SIGTERM)
        two_apis["a"].wait(60)
        drain_seconds = time.monotonic() - sigterm_at
        after_exit = load.sent
        wait_until(lambda: load.sent >= after_exit + WARM_REQUESTS, "orders after A left")
    finally:
        load.stop()
        balancer.stop()
    served_a = served_by(two_apis["logs"][0], load.request_ids)
    served_b = served_by(two_apis["logs"][1], load.request_ids)
    with capsys.disabled():
        print(f"\n[drain] sent={load.sent} failed={len(load.failures)} outcomes="
              f"{dict(load.outcomes)} A={served_a} (before drain {before_drain}) B={served_b} "
              f"preStop={sigterm_at - prestop_started:.2f}s SIGTERM->exit={drain_seconds:.2f}s "
              f"refused={balancer.refused} connections A/B="
              f"{balancer.backends[0].connections}/{balancer.backends[1].connections}")
    assert load.failures == [] and balancer.refused == 0
    assert unready_seen, "A's readiness went before its SIGTERM"
    assert before_drain > 0 and served_b > 0, "both APIs carried the load"
    assert served_a + served_b == load.sent, "every request answered by exactly one API"
    assert two_apis["a"].returncode == 0, "A stopped cleanly (no SIGKILL, no error)"


def test_a_draining_api_is_not_ready_and_closes_each_connection(platform_env, tmp_path):
    port = free_port()
    env = {**platform_env, **environment(WRITE_API), "TMPDIR": str(tmp_path)}
    with running(command(WRITE_API, port), env, f"http://127.0.0.1:{port}/readyz") as api:
        url = f"http://127.0.0.1:{port}"
        assert requests.get(f"{url}/healthz", timeout=5).headers["Connection"] == "keep-alive"
        (tmp_path / "order-platform-draining").touch()  # what the preStop's start() does
        ready = requests.get(f"{url}/readyz", timeout=5)
        assert ready.status_code == 503 and ready.json()["error"]["code"] == "draining"
        served = requests.get(f"{url}/healthz", timeout=5)
        # Still served, and the client told to go elsewhere for the next one.
        assert served.status_code == 200 and served.headers["Connection"] == "close"
        api.send_signal(signal.SIGTERM)
        api.wait(60)
    # A new master in the same pod (a restarted container) serves normally again.
    with running(command(WRITE_API, port), env, f"http://127.0.0.1:{port}/readyz"):
        assert requests.get(f"{url}/readyz", timeout=5).status_code == 200
