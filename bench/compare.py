"""`make bench`: the project's APIs side by side with a bare Flask app running the same SQL.

Starts one PostgreSQL writer, its streaming replica and the AWS emulator (for the project's DB
secret); the write and read APIs exactly as the image starts them (the gunicorn settings the
project ships); and bench/bare_app.py under the same gunicorn settings. Then, per endpoint, it
alternates rounds of wrk against the project and the bare app (wrk is native, so the client
does not eat the CPU being measured), each from a vacuumed and checkpointed database, and
reports each endpoint's throughput as a ratio to the bare app's with p50/p99 latency, and the
CPU each process spent per request. Every request carries a bearer token, which both verify
with the same adapter; what that verification costs per request is measured on its own
(``token_verification_us``). Writes JSON and an SVG chart. Bounded by rounds x seconds;
asserts nothing.

    .venv/bin/python -m bench.compare --rounds 5 --seconds 10
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import requests

from bench import chart
from bench.measure import (
    RESULTS,
    free_port,
    lua_get_one_of,
    lua_headers,
    parse_rounds_args,
    rounds_parser,
    start,
    stop,
    tree_cpu_seconds,
    unwind_on_sigterm,
    wait_ok,
    wrk,
)
from bench.pairs import api_summary
from order_local import stack
from order_local.ports import Ports
from order_platform import launch
from order_platform.domain.access import Role
from order_platform.processes import READ_API, WRITE_API

STOCK = 2_000_000_000


@dataclass
class Target:
    """One HTTP server under test: its base URL and the pid of its gunicorn master."""

    name: str
    url: str
    proc: subprocess.Popen
    log: Path

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the master and every worker so far."""
        return tree_cpu_seconds(self.proc.pid)


def bench_auth(backing: stack.Backing) -> dict[str, str]:
    """The benchmarks' Authorization header: one customer with every role, so that it
    restocks, orders, and reads its orders back."""
    token = backing.identity.customer_token("bench", Role.ADMIN, Role.SUPPORT)
    return {"Authorization": f"Bearer {token}"}


def lua_post(sku: str, auth: dict[str, str]) -> str:
    """A wrk script that POSTs one order of ``sku`` per request, as the token's customer."""
    headers = lua_headers({"Content-Type": "application/json", **auth})
    return f"""
request = function()
  return wrk.format("POST", "/orders", {headers},
                    '{{"items":[{{"sku":"{sku}","quantity":1}}]}}')
end
"""


def lua_get(order_ids: list[str], auth: dict[str, str]) -> str:
    """A wrk script that GETs one of ``order_ids`` per request."""
    return lua_get_one_of("/orders/", order_ids, auth)


def seed(write_url: str, count: int, auth: dict[str, str]) -> tuple[str, list[str]]:
    """A product with stock for every round, and ``count`` orders of it to GET."""
    sku = f"BENCH-{uuid.uuid4().hex[:8]}"
    requests.post(f"{write_url}/products", headers=auth, timeout=10, json={
        "sku": sku, "name": "bench", "price_cents": 100, "stock": STOCK}).raise_for_status()
    session = requests.Session()
    ids = [session.post(f"{write_url}/orders", headers=auth, timeout=10, json={
        "items": [{"sku": sku, "quantity": 1}]}).json()["id"] for _ in range(count)]
    return sku, ids


def bare_database(backing: stack.Backing, data_dir: Path) -> dict[str, str]:
    """The settings ``bench/bare_app.py`` reads to reach ``backing``'s databases."""
    return {"DB_WRITER_HOST": backing.writer.host, "DB_READER_HOST": backing.reader.host,
            "DB_PORT": str(backing.writer.port), "DB_NAME": stack.APP_DB,
            "DB_USER": stack.APP_ROLE,
            "DB_PASSWORD": (data_dir / "app.password").read_text().strip()}


def verification_us(backing: stack.Backing, count: int = 1000) -> dict[str, float]:
    """Microseconds a token's verification takes in this process, keys cached: the first time
    (signature and claims; ``count`` distinct tokens) and once remembered (the same token
    again), as every request to either target pays one or the other."""
    from order_platform import bootstrap
    from order_platform.config import load_settings

    verifier = bootstrap.token_verifier(load_settings(backing.contract))
    tokens = [backing.identity.customer_token(f"bench-{n}") for n in range(count + 1)]
    verifier.verify(tokens.pop())  # fetches the keys once
    started = time.perf_counter()
    for token in tokens:
        verifier.verify(token)
    first = time.perf_counter() - started
    started = time.perf_counter()
    for token in tokens:
        verifier.verify(token)
    again = time.perf_counter() - started
    return {"first": round(first * 1e6 / count, 1), "remembered": round(again * 1e6 / count, 2)}


def main(argv: list[str] | None = None) -> int:
    """Start everything, alternate rounds, report, stop."""
    unwind_on_sigterm()
    args = parse_rounds_args(rounds_parser(__doc__, RESULTS / "compare.json", rounds=5), argv)
    with tempfile.TemporaryDirectory(prefix="order-compare-") as tmp:
        base = Path(tmp)
        backing = stack.start_backing(base / "data", Ports.free())
        procs: list[subprocess.Popen] = []
        try:
            report = _measure(args, base, backing, procs)
        finally:
            stop(procs)
            backing.stop()
    args.out.write_text(json.dumps(report, indent=2))
    svg = args.out.with_suffix(".svg")
    svg.write_text(chart.render(report))
    print(json.dumps(report["summary"], indent=2))
    cost = report["token_verification_us"]
    print(f"bench: verifying a token costs {cost['first']} µs the first time, "
          f"{cost['remembered']} µs once remembered (both targets pay it)")
    print(f"bench: {args.out} and {svg}")
    return 0


def _measure(args, base: Path, backing: stack.Backing, procs: list) -> dict:
    env = {**os.environ, **backing.contract}
    ports = {role: free_port() for role in ("write", "read", "bare")}
    for proc, key in ((WRITE_API, "write"), (READ_API, "read")):
        procs.append(start(launch.command(proc, host="127.0.0.1", port=ports[key]),
                            {**env, **launch.environment(proc)}, base / f"{key}.log"))
    conf = _shipped_gunicorn()
    bare_env = {**env, **bare_database(backing, base / "data")}
    procs.append(start([sys.executable, "-m", "gunicorn", "-k", conf["worker_class"],
                         "-w", str(conf["workers"]), "--threads", str(conf["threads"]),
                         "--max-requests", str(conf["max_requests"]),
                         "--max-requests-jitter", str(conf["max_requests_jitter"]),
                         "--no-control-socket", "--bind", f"127.0.0.1:{ports['bare']}",
                         "--log-level", "warning", "bench.bare_app:create_app()"],
                        bare_env, base / "bare.log"))
    urls = {key: f"http://127.0.0.1:{port}" for key, port in ports.items()}
    for url in urls.values():
        wait_ok(f"{url}/orders/{uuid.uuid4()}")
    auth = bench_auth(backing)
    sku, order_ids = seed(urls["write"], 2000, auth)
    backing.reader.wait_caught_up()
    post_lua, get_lua = base / "post.lua", base / "get.lua"
    post_lua.write_text(lua_post(sku, auth))
    get_lua.write_text(lua_get(order_ids, auth))
    endpoints = {
        "POST /orders": (post_lua, Target("project", urls["write"], procs[0], base / "write.log"),
                         Target("bare", urls["bare"], procs[2], base / "bare.log")),
        "GET /orders/{id}": (get_lua, Target("project", urls["read"], procs[1], base / "read.log"),
                             Target("bare", urls["bare"], procs[2], base / "bare.log")),
    }
    databases = {"postgres-writer": backing.pg.pid, "postgres-reader": backing.pg_reader.pid}
    rounds = []
    for endpoint, (script, project, bare) in endpoints.items():
        for number in range(args.rounds):
            order = (project, bare) if number % 2 == 0 else (bare, project)
            for target in order:
                _settle(backing)
                before = target.cpu_seconds()
                db_before = {name: tree_cpu_seconds(pid) for name, pid in databases.items()}
                result = wrk(target.url, script, args.seconds, args.connections)
                served = max(result["requests"], 1)
                result.update(
                    endpoint=endpoint, target=target.name, round=number + 1,
                    cpu_ms_per_request=round((target.cpu_seconds() - before) * 1000 / served, 3),
                    db_cpu_ms_per_request={name: round((tree_cpu_seconds(pid) - db_before[name])
                                                       * 1000 / served, 3)
                                           for name, pid in databases.items()})
                rounds.append(result)
                print(json.dumps(result), flush=True)
                if result["non_2xx"]:  # a ratio of errors served is no measurement
                    raise SystemExit(
                        f"bench: {target.name} answered {result['non_2xx']} of "
                        f"{result['requests']} {endpoint} requests with an error; the end of "
                        f"its log:\n{target.log.read_text(errors='replace')[-3000:]}")
    return {"settings": {"rounds": args.rounds, "seconds": args.seconds,
                         "connections": args.connections, "gunicorn": conf,
                         "cores": os.cpu_count()},
            "token_verification_us": verification_us(backing),
            "rounds": rounds, "summary": api_summary(rounds)}


def _settle(backing: stack.Backing) -> None:
    """Start every round from the same database state, as pgbench does before its runs: the
    rows the last round wrote vacuumed, its dirty pages written out (so that no checkpoint
    lands inside the next round and slows whichever target it meets), the reader caught up."""
    conn = psycopg2.connect(**backing.writer.superuser_dsn(stack.APP_DB))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("VACUUM (ANALYZE)")
            cur.execute("CHECKPOINT")
    finally:
        conn.close()
    backing.reader.wait_caught_up()


def _shipped_gunicorn() -> dict:
    """The worker model, sizes and recycling the project ships (``gunicorn_conf``); the bare
    app runs under the same."""
    from order_platform.entrypoints.web import gunicorn_conf

    return {"worker_class": gunicorn_conf.worker_class, "workers": gunicorn_conf.workers,
            "threads": gunicorn_conf.threads, "max_requests": gunicorn_conf.max_requests,
            "max_requests_jitter": gunicorn_conf.max_requests_jitter}


if __name__ == "__main__":
    sys.exit(main())
