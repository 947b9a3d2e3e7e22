"""Both APIs under gunicorn on free ports, exercised over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid

import pytest
import requests

from order_platform.config import CONTRACT
from order_platform.processes import READ_API, WRITE_API
from tests.support.platform import free_port
from tests.support.processes import command, environment, running

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def apis(platform_env, tmp_path_factory):
    """The write and read APIs as gunicorn processes; yields their URLs and log files."""
    logs = tmp_path_factory.mktemp("api-logs")
    write_port, read_port = free_port(), free_port()
    read_url = f"http://127.0.0.1:{read_port}"
    env = {**platform_env, "READ_API_URL": read_url, "LOG_LEVEL": "INFO"}
    with running(command(READ_API, read_port), {**env, **environment(READ_API)},
                 f"{read_url}/readyz", logs / "read.log") as read_proc, \
            running(command(WRITE_API, write_port), {**env, **environment(WRITE_API)},
                    f"http://127.0.0.1:{write_port}/readyz", logs / "write.log") as write_proc:
        yield {"write": f"http://127.0.0.1:{write_port}", "read": read_url,
               "write_log": logs / "write.log", "read_log": logs / "read.log",
               "procs": (write_proc, read_proc)}


def _get_until_found(url: str, attempts: int = 20) -> requests.Response:
    """What a client does after 202: follow Location, honouring Retry-After on a 404."""
    for _ in range(attempts):
        response = requests.get(url, timeout=10)
        if response.status_code != 404:
            return response
        time.sleep(float(response.headers.get("Retry-After", "1")))
    return response


def _json_lines(path) -> list[dict]:
    lines = []
    for raw in path.read_text().splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue
    return lines


def test_create_a_product_place_an_order_and_read_it_back(apis):
    sku = f"E2E-{uuid.uuid4().hex[:10]}"
    created = requests.post(f"{apis['write']}/products", timeout=10, json={
        "sku": sku, "name": "End-to-end mug", "price_cents": 1500, "stock": 10})
    assert created.status_code == 201, created.text
    product = _get_until_found(created.headers["Location"])
    assert product.json()["sku"] == sku

    key = str(uuid.uuid4())
    order_body = {"customer_id": "e2e-customer", "items": [{"sku": sku, "quantity": 2}]}
    placed = requests.post(f"{apis['write']}/orders", json=order_body, timeout=10,
                           headers={"Idempotency-Key": key, "X-Request-ID": "e2e-req-1"})
    assert placed.status_code == 202, placed.text
    assert placed.headers["X-Request-ID"] == "e2e-req-1"
    order_id = placed.json()["id"]
    assert placed.headers["Location"] == f"{apis['read']}/orders/{order_id}"

    replay = requests.post(f"{apis['write']}/orders", json=order_body, timeout=10,
                           headers={"Idempotency-Key": key})
    assert (replay.status_code, replay.json()) == (202, placed.json())
    conflict = requests.post(f"{apis['write']}/orders", timeout=10,
                             headers={"Idempotency-Key": key},
                             json={**order_body, "customer_id": "someone-else"})
    assert conflict.status_code == 409

    order = _get_until_found(placed.headers["Location"])
    assert order.status_code == 200
    assert order.json()["total_cents"] == 3000
    assert order.json()["history"][0]["status"] == "PENDING"

    listed = requests.get(f"{apis['read']}/orders", params={"customer_id": "e2e-customer"},
                          timeout=10).json()
    assert order_id in [o["id"] for o in listed["items"]]

    # The access log line of the order carries the request id and the order id, as JSON.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        matches = [line for line in _json_lines(apis["write_log"])
                   if line.get("request_id") == "e2e-req-1"]
        if matches:
            break
        time.sleep(0.2)
    assert matches, "no JSON access line with the request id"
    assert matches[0]["order_id"] == order_id
    assert matches[0]["service"] == "write-api"
    assert matches[0]["status"] == 202


def test_errors_over_real_http_are_json(apis):
    too_big = requests.post(f"{apis['write']}/orders", timeout=10,
                            data=b'{"customer_id": "' + b"x" * 100_000 + b'"}',
                            headers={"Content-Type": "application/json"})
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "payload_too_large"
    not_json = requests.post(f"{apis['write']}/orders", data="customer_id=c", timeout=10,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (not_json.status_code, not_json.json()["error"]["code"]) == (
        415, "unsupported_media_type")
    broken = requests.post(f"{apis['write']}/orders", data="{", timeout=10,
                           headers={"Content-Type": "application/json"})
    assert (broken.status_code, broken.json()["error"]["code"]) == (400, "malformed_json")
    missing = requests.get(f"{apis['read']}/orders/{uuid.uuid4()}", timeout=10)
    assert (missing.status_code, missing.headers["Retry-After"]) == (404, "1")
    assert requests.put(f"{apis['read']}/orders", timeout=10).status_code == 405


def test_both_serve_health_and_openapi(apis):
    for base in (apis["write"], apis["read"]):
        assert requests.get(f"{base}/healthz", timeout=10).json() == {"status": "ok"}
        assert requests.get(f"{base}/readyz", timeout=10).json() == {"status": "ready"}
        spec = requests.get(f"{base}/openapi.json", timeout=10).json()
        assert "/orders" in spec["paths"]


def test_gunicorn_stops_gracefully_on_sigterm(platform_env, tmp_path):
    port = free_port()
    env = {**platform_env, **environment(READ_API), "WEB_CONCURRENCY": "1"}
    with running(command(READ_API, port), env, f"http://127.0.0.1:{port}/healthz",
                 tmp_path / "read.log") as proc:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    log = tmp_path / "read.log"
    assert any(line.get("logger") == "gunicorn.error" for line in _json_lines(log))


@pytest.mark.parametrize("api", [WRITE_API, READ_API], ids=lambda p: p.role)
@pytest.mark.parametrize("broken, name", [({"DB_NAME": None}, "DB_NAME"),
                                          ({"DB_PORT": "not-a-port"}, "DB_PORT")])
def test_a_bad_setting_stops_gunicorn_at_start_naming_it(platform_env, api, broken, name):
    env = {k: v for k, v in os.environ.items() if k not in {s.env for s in CONTRACT}}
    env.update(platform_env)
    for key, value in broken.items():
        if value is None:
            env.pop(key)
        else:
            env[key] = value
    env.update(environment(api))
    result = subprocess.run(command(api, free_port()), env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode != 0
    assert name in result.stdout + result.stderr
