"""`make bench`: the project's APIs side by side with a bare Flask app running the same SQL.

Starts one PostgreSQL writer, its streaming replica and the AWS emulator (for the project's DB
secret); the write and read APIs exactly as the image starts them (the gunicorn settings the
project ships); and bench/bare_app.py under the same gunicorn settings. Then, per endpoint, it
alternates rounds of wrk against the project and the bare app (wrk is native, so the client
does not eat the CPU being measured), each from a vacuumed and checkpointed database, and
reports each endpoint's throughput as a ratio to the bare app's with p50/p99 latency, and the
CPU each process spent per request. Writes JSON and an SVG chart. Bounded by rounds x seconds;
asserts nothing.

    .venv/bin/python bench/compare.py --rounds 5 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg2
import requests

from order_local import stack
from order_local.ports import Ports
from order_platform import launch
from order_platform.processes import READ_API, WRITE_API

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chart

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR.parent / ".bench"
STOCK = 2_000_000_000


@dataclass
class Target:
    """One HTTP server under test: its base URL and the pid of its gunicorn master."""

    name: str
    url: str
    proc: subprocess.Popen

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the master and every worker so far."""
        return tree_cpu_seconds(self.proc.pid)


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and all its descendants, ended ones included.

    A gunicorn worker recycled after ``max_requests``, or a PostgreSQL backend whose client
    disconnected, is gone from the tree; its CPU time is in its parent's ``children_*`` times
    once reaped, so the sum never goes backwards mid-round.
    """
    total = 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return total
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except psutil.Error:
            continue
    return total


def wrk(url: str, script: Path, seconds: int, connections: int) -> dict:
    """One wrk run: requests/s, p50 and p99 in ms, requests, and non-2xx answers."""
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", str(script), url], capture_output=True, text=True,
                         timeout=seconds + 60, check=True).stdout
    percentiles = {int(p): _ms(v) for p, v in re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", out, re.M)}
    if not {50, 99} <= percentiles.keys():
        raise RuntimeError(f"wrk printed no latency distribution:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": percentiles[50], "p99_ms": percentiles[99],
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "non_2xx": int(bad.group(1)) if bad else 0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return round(float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit], 3)


def _lua_post(sku: str) -> str:
    return f"""
math.randomseed(os.time() + math.floor(os.clock() * 1e6))
request = function()
  local body = string.format(
    '{{"customer_id":"bench-%d","items":[{{"sku":"{sku}","quantity":1}}]}}',
    math.random(1, 1e9))
  return wrk.format("POST", "/orders", {{["Content-Type"] = "application/json"}}, body)
end
"""


def lua_get_one_of(prefix: str, values: list[str]) -> str:
    """A wrk script that GETs ``prefix`` followed by one of ``values``, at random."""
    listed = ",".join(f'"{v}"' for v in values)
    return f"""
values = {{{listed}}}
math.randomseed(os.time() + math.floor(os.clock() * 1e6))
request = function()
  return wrk.format("GET", "{prefix}" .. values[math.random(1, #values)])
end
"""


def _lua_get(order_ids: list[str]) -> str:
    return lua_get_one_of("/orders/", order_ids)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=BENCH_DIR)


def _wait_ok(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer")


def _seed(write_url: str, count: int) -> tuple[str, list[str]]:
    sku = f"BENCH-{uuid.uuid4().hex[:8]}"
    requests.post(f"{write_url}/products", json={"sku": sku, "name": "bench", "price_cents": 100,
                                                 "stock": STOCK}, timeout=10).raise_for_status()
    session = requests.Session()
    ids = [session.post(f"{write_url}/orders", timeout=10, json={
        "customer_id": f"seed-{n}", "items": [{"sku": sku, "quantity": 1}]}).json()["id"]
        for n in range(count)]
    return sku, ids


def rounds_parser(doc: str, out: Path, rounds: int = 3) -> argparse.ArgumentParser:
    """The options of a benchmark that alternates wrk rounds, writing its JSON to ``out``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--out", type=Path, default=out)
    return parser


def parse_rounds_args(parser: argparse.ArgumentParser,
                      argv: list[str] | None) -> argparse.Namespace:
    """Parse, refuse to start without wrk, and make the output's directory."""
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (make bench installs it: apt-get install wrk)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    return args


def main(argv: list[str] | None = None) -> int:
    """Start everything, alternate rounds, report, stop."""
    args = parse_rounds_args(rounds_parser(__doc__, RESULTS / "compare.json", rounds=5), argv)
    with tempfile.TemporaryDirectory(prefix="order-compare-") as tmp:
        base = Path(tmp)
        backing = stack.start_backing(base / "data", Ports.free())
        procs: list[subprocess.Popen] = []
        try:
            report = _measure(args, base, backing, procs)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)
            backing.stop()
    args.out.write_text(json.dumps(report, indent=2))
    svg = args.out.with_suffix(".svg")
    svg.write_text(chart.render(report))
    print(json.dumps(report["summary"], indent=2))
    print(f"bench: {args.out} and {svg}")
    return 0


def _measure(args, base: Path, backing: stack.Backing, procs: list) -> dict:
    env = {**os.environ, **backing.contract}
    ports = {role: _free_port() for role in ("write", "read", "bare")}
    for proc, key in ((WRITE_API, "write"), (READ_API, "read")):
        procs.append(_start(launch.command(proc, host="127.0.0.1", port=ports[key]),
                            {**env, **launch.environment(proc)}, base / f"{key}.log"))
    conf = _shipped_gunicorn()
    bare_env = {**env, "DB_WRITER_HOST": backing.writer.host,
                "DB_READER_HOST": backing.reader.host, "DB_PORT": str(backing.writer.port),
                "DB_NAME": stack.APP_DB, "DB_USER": stack.APP_ROLE,
                "DB_PASSWORD": (base / "data" / "app.password").read_text().strip(),
                "PYTHONPATH": str(BENCH_DIR.parent / "services")}
    procs.append(_start([sys.executable, "-m", "gunicorn", "-k", conf["worker_class"],
                         "-w", str(conf["workers"]), "--threads", str(conf["threads"]),
                         "--max-requests", str(conf["max_requests"]),
                         "--max-requests-jitter", str(conf["max_requests_jitter"]),
                         "--bind", f"127.0.0.1:{ports['bare']}", "--log-level", "warning",
                         "bare_app:create_app()"], bare_env, base / "bare.log"))
    urls = {key: f"http://127.0.0.1:{port}" for key, port in ports.items()}
    for url in urls.values():
        _wait_ok(f"{url}/orders/{uuid.uuid4()}")
    sku, order_ids = _seed(urls["write"], 2000)
    backing.reader.wait_caught_up()
    post_lua, get_lua = base / "post.lua", base / "get.lua"
    post_lua.write_text(_lua_post(sku))
    get_lua.write_text(_lua_get(order_ids))
    endpoints = {
        "POST /orders": (post_lua, Target("project", urls["write"], procs[0]),
                         Target("bare", urls["bare"], procs[2])),
        "GET /orders/{id}": (get_lua, Target("project", urls["read"], procs[1]),
                             Target("bare", urls["bare"], procs[2])),
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
    return {"settings": {"rounds": args.rounds, "seconds": args.seconds,
                         "connections": args.connections, "gunicorn": conf,
                         "cores": os.cpu_count()},
            "rounds": rounds, "summary": _summary(rounds)}


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


def _summary(rounds: list[dict]) -> dict:
    """Per endpoint: the throughput ratio of each pair of rounds (project / bare) and its
    median; the same for CPU per request (bare / project, so that 1.0 means as cheap as the
    bare app and less means dearer); the medians of each target's figures.

    Both ratios, because they answer different questions. Throughput is what the load
    generator sees, and on two shared cores a slow day's costs that both apps share (the
    kernel, gunicorn, PostgreSQL, wrk itself) dilute the difference. CPU per request is what
    a pod pays for, and it keeps the difference.
    """
    summary = {}
    for endpoint in dict.fromkeys(r["endpoint"] for r in rounds):
        mine = [r for r in rounds if r["endpoint"] == endpoint]
        by = {t: [r for r in mine if r["target"] == t] for t in ("project", "bare")}
        pairs = list(zip(by["project"], by["bare"], strict=True))
        ratios = [p["rps"] / b["rps"] for p, b in pairs]
        cpu_ratios = [b["cpu_ms_per_request"] / p["cpu_ms_per_request"] for p, b in pairs
                      if p["cpu_ms_per_request"] > 0] or [float("nan")]
        summary[endpoint] = {
            "ratio_median": round(statistics.median(ratios), 3),
            "ratios": [round(r, 3) for r in ratios],
            "cpu_ratio_median": round(statistics.median(cpu_ratios), 3),
            "cpu_ratios": [round(r, 3) for r in cpu_ratios],
            **{f"{t}_{k}": round(statistics.median(r[k] for r in rs), 3)
               for t, rs in by.items() for k in ("rps", "p50_ms", "p99_ms",
                                                 "cpu_ms_per_request")},
        }
    return summary


if __name__ == "__main__":
    sys.exit(main())
