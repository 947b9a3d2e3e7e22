"""Both APIs under gunicorn on free ports, exercised over real HTTP, with real tokens of the
emulator's user pool: what each caller may do, and every bad token refused with a 401."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid

import pytest
import requests

from order_local import identity
from order_platform.config import CONTRACT
from order_platform.domain.access import Role
from order_platform.processes import READ_API, WRITE_API
from tests.e2e.conftest import WORKERS, bearer
from tests.support.platform import free_port
from tests.support.processes import command, environment, running
from tests.support.tokens import (
    SigningKey,
    access_claims,
    hmac_with_public_key,
    mint,
    unsigned,
)

pytestmark = pytest.mark.e2e


def _get_until_found(url: str, headers: dict[str, str] | None = None,
                     attempts: int = 20) -> requests.Response:
    """What a client does after 202: follow Location, honouring Retry-After on a 404."""
    for _ in range(attempts):
        response = requests.get(url, timeout=10, headers=headers)
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


def test_create_a_product_place_an_order_and_read_it_back(apis, users, admin):
    sku = f"E2E-{uuid.uuid4().hex[:10]}"
    created = requests.post(f"{apis['write']}/products", timeout=10, headers=admin, json={
        "sku": sku, "name": "End-to-end mug", "price_cents": 1500, "stock": 10})
    assert created.status_code == 201, created.text
    product = _get_until_found(created.headers["Location"])  # product reads are public
    assert product.json()["sku"] == sku

    key = str(uuid.uuid4())
    customer = bearer(identity.person_token(users, "e2e-customer"))
    order_body = {"items": [{"sku": sku, "quantity": 2}]}
    placed = requests.post(f"{apis['write']}/orders", json=order_body, timeout=10, headers={
        **customer, "Idempotency-Key": key, "X-Request-ID": "e2e-req-1"})
    assert placed.status_code == 202, placed.text
    assert placed.headers["X-Request-ID"] == "e2e-req-1"
    order_id = placed.json()["id"]
    assert placed.headers["Location"] == f"{apis['read']}/orders/{order_id}"

    replay = requests.post(f"{apis['write']}/orders", json=order_body, timeout=10,
                           headers={**customer, "Idempotency-Key": key})
    assert (replay.status_code, replay.json()) == (202, placed.json())
    conflict = requests.post(f"{apis['write']}/orders", timeout=10,
                             headers={**customer, "Idempotency-Key": key},
                             json={"items": [{"sku": sku, "quantity": 3}]})
    assert conflict.status_code == 409

    order = _get_until_found(placed.headers["Location"], customer)
    assert order.status_code == 200
    assert order.json()["total_cents"] == 3000
    assert order.json()["history"][0]["status"] == "PENDING"

    listed = requests.get(f"{apis['read']}/orders", headers=customer, timeout=10).json()
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


def test_errors_over_real_http_are_json(apis, admin):
    too_big = requests.post(f"{apis['write']}/orders", timeout=10,
                            data=b'{"items": "' + b"x" * 100_000 + b'"}',
                            headers={**admin, "Content-Type": "application/json"})
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "payload_too_large"
    not_json = requests.post(f"{apis['write']}/orders", data="items=c", timeout=10, headers={
        **admin, "Content-Type": "application/x-www-form-urlencoded"})
    assert (not_json.status_code, not_json.json()["error"]["code"]) == (
        415, "unsupported_media_type")
    broken = requests.post(f"{apis['write']}/orders", data="{", timeout=10,
                           headers={**admin, "Content-Type": "application/json"})
    assert (broken.status_code, broken.json()["error"]["code"]) == (400, "malformed_json")
    missing = requests.get(f"{apis['read']}/orders/{uuid.uuid4()}", timeout=10, headers=admin)
    assert (missing.status_code, missing.headers["Retry-After"]) == (404, "1")
    assert requests.put(f"{apis['read']}/orders", timeout=10).status_code == 405


def test_both_serve_health_and_openapi(apis):
    for base in (apis["write"], apis["read"]):  # probes and documents need no token
        assert requests.get(f"{base}/healthz", timeout=10).json() == {"status": "ok"}
        assert requests.get(f"{base}/readyz", timeout=10).json() == {"status": "ready"}
        spec = requests.get(f"{base}/openapi.json", timeout=10).json()
        assert "/orders" in spec["paths"]
        assert spec["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"


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


def _bad_tokens(platform_env) -> dict[str, str]:
    """Each kind of token the APIs must refuse, all but two signed with the key the emulator's
    pool publishes (so only the claim at fault is wrong)."""
    key, now = SigningKey.emulators(), int(time.time())
    issuer, client = platform_env["AUTH_ISSUER"], platform_env["AUTH_AUDIENCES"].split(",")[0]

    def claims(**extra):
        return access_claims(issuer, client, subject="matrix", **extra)

    return {
        "malformed": "not-a-jwt",
        "alg none": unsigned(key, claims()),
        "HS256 signed with the public key": hmac_with_public_key(key, claims()),
        "expired": mint(key, claims(iat=now - 7200, exp=now - 3600)),
        "not yet valid": mint(key, claims(nbf=now + 3600)),
        "wrong issuer": mint(key, {**claims(), "iss": "https://issuer.example.com"}),
        "wrong audience": mint(key, access_claims(issuer, "another-client", subject="matrix")),
        "unknown kid": mint(SigningKey.new(), claims()),
        "oversized (6 KiB)": mint(key, claims(padding="x" * 4500)),
    }


@pytest.mark.parametrize("kind", [*_bad_tokens({"AUTH_ISSUER": "i", "AUTH_AUDIENCES": "a"}),
                                  "no token", "token in the query string"])
def test_every_bad_token_is_a_401_with_a_bearer_challenge(apis, platform_env, kind):
    tokens = _bad_tokens(platform_env)
    headers, params = {}, {}
    if kind == "token in the query string":  # RFC 6750 2.3 allows it; the APIs ignore it
        params["access_token"] = mint(SigningKey.emulators(), access_claims(
            platform_env["AUTH_ISSUER"], platform_env["AUTH_AUDIENCES"].split(",")[0]))
    elif kind != "no token":
        headers = bearer(tokens[kind])
    for method, url in (("GET", f"{apis['read']}/orders"),
                        ("POST", f"{apis['write']}/orders")):
        response = requests.request(method, url, headers=headers, params=params, timeout=10,
                                    json={"items": [{"sku": "KB-001", "quantity": 1}]})
        assert response.status_code == 401, (kind, method, response.text)
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith('Bearer realm="order-platform"')
        code = response.json()["error"]["code"]
        if headers:
            assert 'error="invalid_token"' in challenge and code == "invalid_token"
        else:  # RFC 6750 3.1: no error code when the request carried no token
            assert "error=" not in challenge and code == "missing_token"


def test_a_flood_of_unknown_kids_does_not_hammer_the_issuer(apis, platform_env, issuer_keys):
    issuer, client = platform_env["AUTH_ISSUER"], platform_env["AUTH_AUDIENCES"].split(",")[0]
    stranger = SigningKey.new()
    started, before = time.monotonic(), issuer_keys.fetches
    for n in range(100):
        token = mint(stranger, access_claims(issuer, client), kid=f"made-up-{n}")
        response = requests.get(f"{apis['read']}/orders", headers=bearer(token), timeout=10)
        assert response.status_code == 401
    # Each worker refreshes its keys for an unknown kid at most once per 30 s cooldown.
    cooldowns = 1 + int((time.monotonic() - started) // 30)
    assert issuer_keys.fetches - before <= WORKERS * cooldowns < 100


def test_a_customer_never_reads_lists_or_orders_as_another(apis, users, admin):
    sku = f"AB-{uuid.uuid4().hex[:10]}"
    assert requests.post(f"{apis['write']}/products", headers=admin, timeout=10, json={
        "sku": sku, "name": "Shared mug", "price_cents": 100, "stock": 10}).status_code == 201
    alice = bearer(identity.person_token(users, "alice-e2e"))
    bob = bearer(identity.person_token(users, "bob-e2e"))
    support = bearer(identity.person_token(users, "agent-e2e", frozenset({Role.SUPPORT})))
    placed = requests.post(f"{apis['write']}/orders", headers=alice, timeout=10,
                           json={"items": [{"sku": sku, "quantity": 1}]})
    assert placed.status_code == 202, placed.text
    order_id, alices_id = placed.json()["id"], placed.json()["customer_id"]
    assert _get_until_found(placed.headers["Location"], alice).status_code == 200

    hidden = requests.get(placed.headers["Location"], headers=bob, timeout=10)
    nowhere = requests.get(f"{apis['read']}/orders/{uuid.uuid4()}", headers=bob, timeout=10)
    # Someone else's order is answered as one that does not exist, header for header.
    assert (hidden.status_code, hidden.json()["error"]["code"], hidden.headers["Retry-After"]) \
        == (nowhere.status_code, nowhere.json()["error"]["code"], nowhere.headers["Retry-After"])
    for params in ({}, {"customer_id": alices_id}):
        listed = requests.get(f"{apis['read']}/orders", headers=bob, params=params, timeout=10)
        assert order_id not in [o["id"] for o in listed.json()["items"]]
    as_alice = requests.post(f"{apis['write']}/orders", headers=bob, timeout=10, json={
        "customer_id": alices_id, "items": [{"sku": sku, "quantity": 1}]})
    assert as_alice.status_code == 422 and "customer_id" in as_alice.json()["error"]["details"][
        "json"]
    seen_by_support = requests.get(placed.headers["Location"], headers=support, timeout=10)
    assert seen_by_support.json()["customer_id"] == alices_id


def test_catalogue_writes_need_the_admin_role(apis, users):
    customer = bearer(identity.person_token(users, "carol-e2e"))
    refused = requests.post(f"{apis['write']}/products", headers=customer, timeout=10, json={
        "sku": f"NO-{uuid.uuid4().hex[:8]}", "name": "n", "price_cents": 1, "stock": 1})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]
    assert 'scope="orders-api/admin"' in refused.headers["WWW-Authenticate"]
    person_admin = bearer(identity.person_token(users, "dora-e2e", frozenset({Role.ADMIN})))
    assert requests.post(f"{apis['write']}/products", headers=person_admin, timeout=10, json={
        "sku": f"OK-{uuid.uuid4().hex[:8]}", "name": "n", "price_cents": 1,
        "stock": 1}).status_code == 201
    assert requests.get(f"{apis['read']}/products", timeout=10).status_code == 200
