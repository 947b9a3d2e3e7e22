"""`make bench-cache`: GET /products/{sku} with the product cache and without it, in one run.

Starts one platform of its own (PostgreSQL writer and streaming reader, the AWS emulator, the
cache's redis-server), the write API, the relay, the worker, and two read APIs exactly as the
image starts them: one with ``CACHE_URL``, one without. Seeds products, then alternates rounds
of wrk against the two (cached first in odd rounds, uncached first in even ones), each round
reporting req/s, p50/p99 and non-2xx; the cached rounds also report the hit ratio from the
cache server's own counters (INFO keyspace_hits / keyspace_misses). Then it measures how long a
restock through the write API takes to show on the cached read API (relay, bus, queue, worker
eviction, refill), and kills the cache under wrk load to count what that costs. Bounded by
rounds x seconds; asserts nothing.

    .venv/bin/python -m bench.cache_bench --rounds 3 --seconds 10
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import redis
import requests

from bench import measure
from bench.compare import bench_auth
from bench.measure import unwind_on_sigterm
from order_local import cache_server, stack
from order_local.ports import Ports
from order_platform import launch
from order_platform.processes import READ_API, RELAY, WORKER, WRITE_API
from order_platform.service_layer import product_cache

HIT = f"{product_cache.CACHE_NAME}; hit"


def _lua_get_skus(skus: list[str]) -> str:
    return measure.lua_get_one_of("/products/", skus)


def _cache_stats(client: redis.Redis) -> tuple[int, int]:
    stats = client.info("stats")
    return stats["keyspace_hits"], stats["keyspace_misses"]


def _seed(write_url: str, count: int, auth: dict[str, str]) -> list[str]:
    session = requests.Session()
    session.headers.update(auth)
    skus = []
    for n in range(count):
        sku = f"CB-{uuid.uuid4().hex[:8]}-{n}"
        session.post(f"{write_url}/products", timeout=10, json={
            "sku": sku, "name": f"bench {n}", "price_cents": 100 + n,
            "stock": 1_000_000}).raise_for_status()
        skus.append(sku)
    return skus


def _rounds(args, urls: dict[str, str], script: Path, cache: redis.Redis,
            pids: dict[str, int]) -> list[dict]:
    """Alternating wrk rounds; each with the cache's hit ratio and the CPU that each process
    (the read API under test, the reader, the cache server) spent per request."""
    rounds = []
    for number in range(args.rounds):
        order = ("cached", "uncached") if number % 2 == 0 else ("uncached", "cached")
        for target in order:
            before = _cache_stats(cache)
            cpu = {"api": pids[target], "reader": pids["reader"], "cache": pids["cache"]}
            cpu_before = {name: measure.tree_cpu_seconds(pid) for name, pid in cpu.items()}
            result = measure.wrk(urls[target], script, args.seconds, args.connections)
            hits, misses = (after - was for after, was in zip(_cache_stats(cache), before,
                                                              strict=True))
            served = max(result["requests"], 1)
            result.update(target=target, round=number + 1, cache_hits=hits,
                          cache_misses=misses,
                          hit_ratio=round(hits / (hits + misses), 4) if hits + misses else None,
                          **{f"{name}_cpu_us_per_request": round(
                              (measure.tree_cpu_seconds(pid) - cpu_before[name]) * 1e6 / served, 1)
                             for name, pid in cpu.items()})
            rounds.append(result)
            print(json.dumps(result), flush=True)
    return rounds


def _restock_visibility(write_url: str, read_url: str, sku: str, count: int,
                        auth: dict[str, str]) -> dict:
    """Seconds from each restock's answer to the first cached read that shows it."""
    session = requests.Session()
    session.headers.update(auth)
    seen = []
    for n in range(count):
        # The product is cached (a hit) before each restock, so the read must be evicted.
        deadline = time.monotonic() + 30
        while session.get(f"{read_url}/products/{sku}", timeout=10).headers.get(
                "Cache-Status") != HIT and time.monotonic() < deadline:
            time.sleep(0.02)
        level = 500_000 + n
        session.post(f"{write_url}/products/{sku}/stock", timeout=10,
                     json={"mode": "set", "quantity": level}).raise_for_status()
        done = time.monotonic()
        deadline = done + 30
        while time.monotonic() < deadline:
            if session.get(f"{read_url}/products/{sku}", timeout=10).json()["stock"] == level:
                seen.append(time.monotonic() - done)
                break
            time.sleep(0.005)
    seen.sort()
    return {"restocks": count, "seen": len(seen),
            "median_ms": round(statistics.median(seen) * 1000, 1),
            "min_ms": round(seen[0] * 1000, 1), "max_ms": round(seen[-1] * 1000, 1),
            "p90_ms": round(seen[int(0.9 * (len(seen) - 1))] * 1000, 1)}


def _kill_under_load(args, read_url: str, script: Path, backing: stack.Backing, *,
                     ports: Ports, base: Path) -> dict:
    """wrk on the cached read API; the cache is SIGKILLed a third of the way in and started
    again at two thirds. Reports wrk's counts and how long reads took to hit again."""
    seconds = max(args.seconds, 9)
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(
        measure.wrk(read_url, script, seconds, args.connections)))
    runner.start()
    time.sleep(seconds / 3)
    backing.cache.kill()
    backing.cache.wait()
    time.sleep(seconds / 3)
    backing.cache = cache_server.start(ports.cache, base / "data" / "cache",
                                       base / "data" / "cache.log")
    restarted = time.monotonic()
    recovered = None
    probe = requests.Session()
    while recovered is None and time.monotonic() - restarted < seconds:
        if probe.get(f"{read_url}/products/{args.probe_sku}", timeout=10).headers.get(
                "Cache-Status") == HIT:
            recovered = time.monotonic() - restarted
        else:
            time.sleep(0.05)
    runner.join()
    return {"seconds": seconds, "requests": result.get("requests"),
            "non_2xx": result.get("non_2xx"), "rps": result.get("rps"),
            "hits_again_after_restart_s": round(recovered, 2) if recovered else None}


def _summary(rounds: list[dict]) -> dict:
    summary = {}
    for target in ("cached", "uncached"):
        mine = [r for r in rounds if r["target"] == target]
        summary[target] = {k: round(statistics.median(r[k] for r in mine), 3)
                           for k in ("rps", "p50_ms", "p99_ms", "api_cpu_us_per_request",
                                     "reader_cpu_us_per_request",
                                     "cache_cpu_us_per_request")}
        summary[target]["non_2xx"] = sum(r["non_2xx"] for r in mine)
        hits, misses = sum(r["cache_hits"] for r in mine), sum(r["cache_misses"] for r in mine)
        summary[target]["hit_ratio"] = round(hits / (hits + misses), 4) if hits + misses else None
    summary["rps_ratio"] = round(summary["cached"]["rps"] / summary["uncached"]["rps"], 3)
    return summary


def main(argv: list[str] | None = None) -> int:
    """Start everything, alternate rounds, measure visibility and a kill, report, stop."""
    unwind_on_sigterm()
    parser = measure.rounds_parser(__doc__, measure.RESULTS / "cache.json")
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--restocks", type=int, default=20)
    args = measure.parse_rounds_args(parser, argv)
    with tempfile.TemporaryDirectory(prefix="order-cache-bench-") as tmp:
        base, ports = Path(tmp), Ports.free()
        backing = stack.start_backing(base / "data", ports)
        procs: list[subprocess.Popen] = []
        try:
            report = _measure(args, base, ports, backing, procs)
        finally:
            measure.stop(procs)
            backing.stop()
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: report[k] for k in ("summary", "restock_visibility",
                                             "cache_killed_under_load")}, indent=2))
    print(f"bench: {args.out}")
    return 0


def _measure(args, base: Path, ports: Ports, backing: stack.Backing, procs: list) -> dict:
    env = {**os.environ, **backing.contract}
    uncached_env = {k: v for k, v in env.items() if k != "CACHE_URL"}
    urls = {}
    for name, proc, proc_env in (("write", WRITE_API, env), ("cached", READ_API, env),
                                 ("uncached", READ_API, uncached_env)):
        port = measure.free_port()
        procs.append(measure.start(launch.command(proc, host="127.0.0.1", port=port),
                            {**proc_env, **launch.environment(proc)}, base / f"{name}.log"))
        urls[name] = f"http://127.0.0.1:{port}"
    for proc in (RELAY, WORKER):
        procs.append(measure.start(launch.command(proc), {
            **env, **launch.environment(proc), "HEALTH_PORT": str(measure.free_port()),
            "WORKER_POLL_WAIT_SECONDS": "2"}, base / f"{proc.role}.log"))
    for url in urls.values():
        measure.wait_ok(f"{url}/readyz")
    auth = bench_auth(backing)
    skus = _seed(urls["write"], args.products, auth)
    args.probe_sku = skus[0]
    backing.reader.wait_caught_up()
    script = base / "get_product.lua"
    script.write_text(_lua_get_skus(skus))
    cache = redis.Redis.from_url(cache_server.url(ports.cache))
    measure.wrk(urls["cached"], script, 2, args.connections)  # warm both up the same way
    measure.wrk(urls["uncached"], script, 2, args.connections)
    pids = {"cached": procs[1].pid, "uncached": procs[2].pid, "reader": backing.pg_reader.pid,
            "cache": backing.cache.pid}
    rounds = _rounds(args, urls, script, cache, pids)
    visibility = _restock_visibility(urls["write"], urls["cached"], skus[-1], args.restocks,
                                     auth)
    print(json.dumps({"restock_visibility": visibility}), flush=True)
    killed = _kill_under_load(args, urls["cached"], script, backing, ports=ports, base=base)
    print(json.dumps({"cache_killed_under_load": killed}), flush=True)
    return {"settings": {"rounds": args.rounds, "seconds": args.seconds,
                         "connections": args.connections, "products": args.products,
                         "cores": os.cpu_count()},
            "rounds": rounds, "summary": _summary(rounds), "restock_visibility": visibility,
            "cache_killed_under_load": killed}


if __name__ == "__main__":
    sys.exit(main())
