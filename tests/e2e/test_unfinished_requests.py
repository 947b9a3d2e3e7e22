"""A request its gunicorn worker dies with is a 5xx in ``/metrics``: a 504 when gunicorn's
timeout killed the worker, a 502 when it crashed. Real gunicorn, real PostgreSQL, real scrapes.

The request waits on a row lock a superuser session holds, so it is surely in flight when the
worker goes: frozen with SIGSTOP (a hung worker: no heartbeat, no signal handler runs, as when
it is stuck in C code), which gunicorn's timeout then kills; or SIGKILLed outright (a crash, the
OOM killer). Neither lets the app's own accounting run.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid

import psutil
import psycopg2
import pytest
import requests

from order_local.stack import APP_DB
from order_platform import telemetry
from order_platform.entrypoints.web import unfinished_requests
from order_platform.processes import WRITE_API
from tests.integration.pipeline.harness import wait_until
from tests.support.platform import free_port
from tests.support.processes import command, environment, running
from tests.support.scrape import delta, scrape
from tests.support.tokens import bearer

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 3
REQUESTS_TOTAL = telemetry.HTTP_REQUESTS.name


@pytest.fixture
def api(platform_env, tmp_path):
    """The write API under gunicorn, one worker, a short timeout; its URL and master."""
    port = free_port()
    env = {**platform_env, **environment(WRITE_API), "WEB_CONCURRENCY": "1",
           "GUNICORN_TIMEOUT": str(TIMEOUT_SECONDS)}
    log = tmp_path / "write-api.log"
    with running(command(WRITE_API, port), env, f"http://127.0.0.1:{port}/readyz", log) as master:
        master.log = log
        master.auth = bearer(platform_env, "ops", "admin")  # a catalogue administrator
        yield f"http://127.0.0.1:{port}", master


def _worker(master) -> psutil.Process:
    (worker,) = psutil.Process(master.pid).children()
    return worker


def _restock_stuck_on_a_lock(pg_server, url: str, lose_the_worker, auth: dict) -> list:
    """Start a restock that waits on a row lock, ``lose_the_worker()`` while it waits, and
    return what the client got (an exception: nobody answered)."""
    product = requests.post(f"{url}/products", timeout=30, headers=auth, json={
        "sku": f"LOST-{uuid.uuid4().hex[:10]}", "name": "Lost", "price_cents": 1, "stock": 1})
    assert product.status_code == 201, product.text
    product_id = product.json()["id"]
    holder = psycopg2.connect(**pg_server.superuser_dsn(APP_DB))
    got: list = []

    def restock() -> None:
        try:
            got.append(requests.post(f"{url}/products/{product_id}/stock", timeout=60,
                                     headers=auth, json={"mode": "add", "quantity": 1}))
        except requests.RequestException as exc:
            got.append(exc)

    try:
        with holder.cursor() as cur:
            cur.execute("SET idle_in_transaction_session_timeout = '60s'")
            cur.execute("SELECT 1 FROM products WHERE id = %s FOR UPDATE", (product_id,))
            client = threading.Thread(target=restock)
            client.start()
            wait_until(lambda: _waiting_on_a_lock(holder), timeout=30,
                       what="the restock to wait on the row lock")
            lose_the_worker()
            client.join(60)
    finally:
        holder.rollback()
        holder.close()
    return got


def _waiting_on_a_lock(conn) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database() AND pid <> pg_backend_pid()")
        return cur.fetchone()[0] > 0


def _after_a_new_worker(url: str, master, gone: int) -> dict:
    """Scrape once the master has replaced worker ``gone`` and the new one answers."""
    wait_until(lambda: [w.pid for w in psutil.Process(master.pid).children()] not in ([], [gone])
               and requests.get(f"{url}/readyz", timeout=10).ok, timeout=60,
               what="a new worker to answer")
    return scrape(url)


def _lose_the_worker_mid_request(api, pg_server, sig: int) -> tuple[dict, dict]:
    """Scrape; send the only worker ``sig`` while a request waits on a lock; scrape again."""
    url, master = api
    before, worker = scrape(url), _worker(master)
    got = _restock_stuck_on_a_lock(pg_server, url, lambda: os.kill(worker.pid, sig),
                                   master.auth)
    assert len(got) == 1 and isinstance(got[0], requests.ConnectionError), got  # no answer
    return before, _after_a_new_worker(url, master, worker.pid)


def test_a_request_gunicorn_times_out_is_a_504(api, pg_server):
    before, after = _lose_the_worker_mid_request(api, pg_server, signal.SIGSTOP)
    unfinished = {"route": unfinished_requests.ROUTE, "method": "POST"}
    assert delta(before, after, REQUESTS_TOTAL, **unfinished, status="504") == 1
    assert delta(before, after, REQUESTS_TOTAL, status="503") == 0  # the app never unwound
    assert delta(before, after, f"{telemetry.HTTP_DURATION.name}_count", **unfinished) == 1
    # With the time it had run (the bucket it lands in depends on the machine, not asserted).
    assert delta(before, after, f"{telemetry.HTTP_DURATION.name}_sum", **unfinished) > 0
    assert "WORKER TIMEOUT" in api[1].log.read_text()


def test_a_request_lost_with_a_crashed_worker_is_a_502(api, pg_server):
    before, after = _lose_the_worker_mid_request(api, pg_server, signal.SIGKILL)
    assert delta(before, after, REQUESTS_TOTAL, route=unfinished_requests.ROUTE,
                 status="502") == 1
    assert delta(before, after, REQUESTS_TOTAL, status="504") == 0
    assert "WORKER TIMEOUT" not in api[1].log.read_text()
