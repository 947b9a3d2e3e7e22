"""`make dev` end to end: the whole local platform starts, takes an order to CONFIRMED,
stops cleanly on Ctrl-C with no stray processes, and keeps its data across restarts."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid

import psutil
import pytest
import requests

from order_platform.localplatform.stack import Ports
from tests.conftest import free_port

pytestmark = pytest.mark.e2e


class Platform:
    """`order-local up` as a child process, with its output collected."""

    def __init__(self, data_dir, ports: Ports):
        args = [sys.executable, "-m", "order_platform.localplatform", "up",
                "--data-dir", str(data_dir)]
        for field in Ports.__dataclass_fields__:
            args += [f"--{field.replace('_', '-')}-port", str(getattr(ports, field))]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.proc.poll() is None, f"platform exited early:\n{self.output()[-4000:]}"
            assert time.monotonic() < deadline, f"no {text!r}:\n{self.output()[-4000:]}"
            time.sleep(0.2)

    def interrupt(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


def _processes_mentioning(needles: list[str]) -> list[str]:
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if any(n in cmdline for n in needles):
            found.append(f"{proc.info['pid']}: {cmdline}")
    return found


def _wait_status(read_api: str, order_id: str, wanted: set[str], timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        resp = requests.get(f"{read_api}/orders/{order_id}", timeout=5)
        if resp.status_code == 200:
            body = resp.json()
            if body["status"] in wanted:
                return body
        time.sleep(0.3)
    raise AssertionError(f"order {order_id} never reached {wanted}; last seen {body}")


def test_make_dev_serves_an_order_to_confirmed_and_stops_cleanly(tmp_path):
    ports = Ports(**{f: free_port() for f in Ports.__dataclass_fields__})
    data_dir = tmp_path / "local"
    write_api = f"http://127.0.0.1:{ports.write_api}"
    read_api = f"http://127.0.0.1:{ports.read_api}"
    platform = Platform(data_dir, ports)
    try:
        platform.wait_for("order-platform is up")
        assert "demo products created: KB-001" in platform.output()

        customer = f"e2e-{uuid.uuid4().hex[:8]}"
        resp = requests.post(f"{write_api}/orders", timeout=10, json={
            "customer_id": customer, "items": [{"sku": "KB-001", "quantity": 2}]})
        assert resp.status_code == 202, resp.text
        order_id = resp.json()["id"] if "id" in resp.json() else resp.json()["order_id"]
        order = _wait_status(read_api, order_id, {"CONFIRMED", "REJECTED"})
        assert order["status"] == "CONFIRMED", order
        stock = requests.get(f"{read_api}/products/KB-001", timeout=5).json()["stock"]
        assert stock == 23  # seeded 25, sold 2
    finally:
        code = platform.interrupt()
    assert code == 0, platform.output()[-4000:]
    needles = [str(data_dir), f"127.0.0.1:{ports.write_api}", f"-p {ports.aws}"]
    assert _processes_mentioning(needles) == []

    # A second start reuses the data directory: nothing is seeded twice, the order is there.
    platform = Platform(data_dir, ports)
    try:
        platform.wait_for("order-platform is up")
        assert "demo products created: already present" in platform.output()
        assert requests.get(f"{read_api}/orders/{order_id}", timeout=5).json()["status"] == \
            "CONFIRMED"
    finally:
        assert platform.interrupt() == 0
    assert _processes_mentioning(needles) == []
