"""`make dev` end to end: the whole local platform starts, takes an order to CONFIRMED,
stops cleanly on Ctrl-C with no stray processes, and keeps its data across restarts.
Its reader endpoint is a streaming replica of the writer, as Aurora's is."""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import psycopg2
import pytest
import requests

from order_local import postgres
from order_local.ports import Ports
from order_local.runner import LocalPlatformProcess
from order_platform.processes import DEPLOYED

pytestmark = pytest.mark.e2e


def _processes_mentioning(needles: list[str]) -> list[str]:
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if any(n in cmdline for n in needles):
            found.append(f"{proc.info['pid']}: {cmdline}")
    return found


def _wait_status(read_api: str, order_id: str, wanted: set[str], auth: dict[str, str],
                 timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        resp = requests.get(f"{read_api}/orders/{order_id}", timeout=5, headers=auth)
        if resp.status_code == 200:
            body = resp.json()
            if body["status"] in wanted:
                return body
        time.sleep(0.3)
    raise AssertionError(f"order {order_id} never reached {wanted}; last seen {body}")


def _in_recovery(data_dir: Path, endpoint: str) -> bool:
    """pg_is_in_recovery() on an endpoint of .local/contract.env, logged in as the app role."""
    contract = dict(shlex.split(line)[0].split("=", 1)
                    for line in (data_dir / "contract.env").read_text().splitlines())
    conn = psycopg2.connect(host=contract[endpoint], port=int(contract["DB_PORT"]),
                            dbname=contract["DB_NAME"], user="orders_app",
                            password=(data_dir / "app.password").read_text().strip())
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_is_in_recovery()")
            return cur.fetchone()[0]
    finally:
        conn.close()


def _socket_dirs(port: int) -> list[Path]:
    return [path for host in (postgres.WRITER_HOST, postgres.READER_HOST)
            for path in Path(tempfile.gettempdir()).glob(f"order-pg-*-{host}-{port}")]


def test_make_dev_serves_an_order_to_confirmed_and_stops_cleanly(tmp_path, pg_system_user):
    ports = Ports.free()
    data_dir = tmp_path / "local"
    platform = LocalPlatformProcess(data_dir, ports, pg_system_user=pg_system_user)
    write_api, read_api = platform.write_url, platform.read_url
    try:
        platform.wait_for()
        # The benchmark's memory report finds every service, backends included.
        memory = platform.service_memory()
        assert set(memory) == {"write-api", "read-api", "worker", "relay", "aws-emulator",
                               "product-cache", "postgres", "postgres-reader"}, memory
        assert all(used > 0 for used in memory.values()), memory
        assert "demo products created: KB-001" in platform.output()
        # The banner names every process's metrics, and each answers there.
        for proc in DEPLOYED:
            metrics = f"{ports.url(proc.role)}/metrics"
            assert metrics in platform.output(), proc.role
            assert requests.get(metrics, timeout=5).status_code == 200, metrics
        # The read API's endpoint is a hot standby streaming from the writer; the app role
        # and its password, created on the writer, have replicated to it.
        assert (_in_recovery(data_dir, "DB_WRITER_ENDPOINT"),
                _in_recovery(data_dir, "DB_READER_ENDPOINT")) == (False, True)

        # As the README's first curl: a token from `order-local token` (make token).
        token = subprocess.run(
            [sys.executable, "-m", "order_local", "token", "--customer",
             f"e2e-{uuid.uuid4().hex[:8]}", "--data-dir", str(data_dir)],
            capture_output=True, text=True, timeout=60, check=True).stdout.strip()
        auth = {"Authorization": f"Bearer {token}"}
        resp = requests.post(f"{write_api}/orders", timeout=10, headers=auth, json={
            "items": [{"sku": "KB-001", "quantity": 2}]})
        assert resp.status_code == 202, resp.text
        order_id = resp.json()["id"]
        order = _wait_status(read_api, order_id, {"CONFIRMED", "REJECTED"}, auth)
        assert order["status"] == "CONFIRMED", order
        stock = requests.get(f"{read_api}/products/KB-001", timeout=5).json()["stock"]
        assert stock == 23  # seeded 25, sold 2
    finally:
        code = platform.interrupt()
    assert code == 0, platform.output()[-4000:]
    # Every service stopped on SIGTERM by itself, within the grace period.
    assert "SIGKILL" not in platform.output(), platform.output()[-4000:]
    for name in ("write-api", "read-api", "worker", "relay"):
        assert f"{name} stopped (rc=0)" in platform.output()
    needles = [str(data_dir), f"127.0.0.1:{ports['write-api']}", f"-p {ports.aws}"]
    assert _processes_mentioning(needles) == []
    assert [d for d in _socket_dirs(ports.postgres) if d.exists()] == []
    # Gone after the restart if the replica were cloned again instead of kept.
    kept = data_dir / "pgdata-reader" / "e2e-kept"
    kept.touch()

    # A second start reuses the data directory: nothing is seeded twice, the order is there.
    platform = LocalPlatformProcess(data_dir, ports, pg_system_user=pg_system_user)
    try:
        platform.wait_for()
        assert "demo products created: already present" in platform.output()
        # The replica kept its clone and resumed streaming: the order is on the reader.
        assert kept.exists()
        assert _in_recovery(data_dir, "DB_READER_ENDPOINT")
        again = subprocess.run(  # the user pool is the emulator's: a new one after a restart
            [sys.executable, "-m", "order_local", "token", "--role", "support",
             "--customer", "e2e-support", "--data-dir", str(data_dir)],
            capture_output=True, text=True, timeout=60, check=True).stdout.strip()
        assert requests.get(f"{read_api}/orders/{order_id}", timeout=5, headers={
            "Authorization": f"Bearer {again}"}).json()["status"] == "CONFIRMED"
    finally:
        assert platform.interrupt() == 0
    assert _processes_mentioning(needles) == []
    assert [d for d in _socket_dirs(ports.postgres) if d.exists()] == []
