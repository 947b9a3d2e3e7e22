"""`make load` and `order-local top` against a whole local platform started on free ports:
a short bounded load with its report and summary, a threshold it cannot meet, and one frame of
the live view of that platform."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from order_local import identity
from order_local.ports import Ports
from order_local.runner import LocalPlatformProcess
from order_platform import topology
from order_platform.domain.access import Role
from order_platform.processes import DEPLOYED, READ_API, WRITE_API

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ENDPOINTS = ("GET /orders", "GET /orders/{order_id}", "GET /products", "GET /products/{ref}",
             "POST /orders", "POST /products/{ref}/stock")


@pytest.fixture(scope="module")
def platform(tmp_path_factory, pg_system_user):
    """The whole platform, without the demo products: the load makes its own."""
    local = LocalPlatformProcess(tmp_path_factory.mktemp("observed") / "local", Ports.free(),
                                 seed=False, pg_system_user=pg_system_user)
    try:
        local.wait_for()
        yield local
    finally:
        local.interrupt()


def _machine_token(platform: LocalPlatformProcess) -> str:
    """The platform's machine client's token, as `make load` gets it."""
    return identity.running_platform(platform.data_dir).machine_token(Role.ADMIN)


def _load(platform: LocalPlatformProcess, out: Path, *args: str):
    ports = platform.ports
    env = {k: v for k, v in os.environ.items() if k != "API_URL"}
    return subprocess.run(
        [sys.executable, "-m", "loadtest", "--write-api-port", str(ports[WRITE_API.role]),
         "--read-api-port", str(ports[READ_API.role]), "--out", str(out),
         "--data-dir", str(platform.data_dir), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_a_bounded_load_reports_every_endpoint_and_settled_orders(platform, tmp_path):
    done = _load(platform, tmp_path, "--duration", "6s", "--users", "6", "--spawn-rate", "6",
                 "--products", "3", "--max-error-rate", "0.02", "--min-settled-per-s", "0.2")
    assert done.returncode == 0, done.stdout + done.stderr
    for endpoint in ENDPOINTS:
        assert re.search(rf"^{re.escape(endpoint)}\s+[1-9]", done.stdout, re.M), done.stdout
    placed, settled = map(int, re.search(r"orders: (\d+) placed, (\d+) settled",
                                         done.stdout).groups())
    assert 0 < settled <= placed
    assert re.search(r"orders settled end to end: \d+\.\d/s", done.stdout)
    [report] = tmp_path.glob("*/report.html")
    html = report.read_text()
    assert "<title>Locust</title>" in html and '"history"' in html  # the charts' series

    # It ordered only the products it made, as the machine client whose token it used.
    run_id = re.search(r"^load: run (\w+),", done.stdout, re.M).group(1)
    machine = {"Authorization": f"Bearer {_machine_token(platform)}"}
    orders = requests.get(f"{platform.read_url}/orders", timeout=5, headers=machine,
                          params={"limit": 20}).json()["items"]
    skus = {line["sku"] for order in orders for line in requests.get(
        f"{platform.read_url}/orders/{order['id']}", timeout=5, headers=machine).json()["lines"]}
    assert skus and all(sku.startswith(f"LOADTEST-{run_id}-") for sku in skus), skus


def test_a_missed_threshold_fails_the_run_and_says_which(platform, tmp_path):
    done = _load(platform, tmp_path, "--duration", "3s", "--users", "2", "--spawn-rate", "2",
                 "--products", "2", "--min-settled-per-s", "100000")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "load: threshold missed: orders settled" in done.stderr
    assert "threshold missed" not in done.stdout


def test_one_frame_of_the_live_view(platform):
    sku = f"LIVE-{uuid.uuid4().hex[:8]}"
    machine = {"Authorization": f"Bearer {_machine_token(platform)}"}
    assert requests.post(f"{platform.write_url}/products", timeout=5, headers=machine, json={
        "sku": sku, "name": "Live view", "price_cents": 100, "stock": 1000}).status_code == 201
    view = subprocess.Popen([sys.executable, "-m", "order_local", "top", "--once",
                             "--interval", "3", *platform.ports.args()],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "160"})
    deadline = time.monotonic() + 30
    with requests.Session() as session:  # orders all through the view's window
        session.headers.update(machine)
        while view.poll() is None and time.monotonic() < deadline:
            assert session.post(f"{platform.write_url}/orders", timeout=5, json={
                "items": [{"sku": sku, "quantity": 1}]}).status_code == 202
            time.sleep(0.05)
    out, err = view.communicate(timeout=30)
    assert view.returncode == 0, err
    for proc in DEPLOYED:
        assert re.search(rf"{proc.role} :{platform.ports[proc.role]} up", out), out
    assert re.search(rf"aws :{platform.ports.aws} up", out)
    for queue in topology.QUEUES:  # read from the emulator: numbers, not "down"
        assert re.search(rf"│ {queue.key}\s+│ \d+\s+│ \d+\s+│ \d+", out), out
    # From the processes' /metrics: the orders just placed, the relay's backlog, the route.
    assert float(re.search(r"created (\d+\.\d)/s", out).group(1)) > 0, out
    assert re.search(r"backlog \d+ ", out) and re.search(r"settled \d+\.\d/s", out), out
    assert re.search(rf"{WRITE_API.role}\s+│ POST /orders\s+│ \d+\.\d\s+│ 0\.0", out), out


def test_the_live_view_of_a_platform_that_is_not_there_says_down():
    nothing = Ports.free()
    done = subprocess.run([sys.executable, "-m", "order_local.live", "--once",
                           "--interval", "0.5", *nothing.args()],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "COLUMNS": "160"})
    assert done.returncode == 0, done.stderr
    for name in (*(p.role for p in DEPLOYED), "aws"):
        assert re.search(rf"{name} :{nothing[name]} down", done.stdout), done.stdout
