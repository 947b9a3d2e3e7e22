"""Pipeline throughput: orders per second from POST /orders to CONFIRMED, with N workers.

Self-contained and bounded: it starts its own PostgreSQL and moto server in a temporary
directory on free 127.0.0.1 ports, the write API (gunicorn), one relay and N worker
processes, then for each N in ``--workers``:

0. runs ``--warmup`` orders through, unmeasured (connections opened, first SDK calls made);
1. creates a product with enough stock for every order;
2. POSTs ``--orders`` orders from ``--concurrency`` threads;
3. polls the writer until every order is CONFIRMED (or ``--timeout`` passes).

It prints, per N, orders/s from the first POST to the last CONFIRMED, the POST rate,
the POST->CONFIRMED latency percentiles (from the status history), and the CPU seconds
each process used during the run, which shows what bounds the pipeline on this machine.
It also divides the workers' CPU by the messages they handled and the relay's by the events it
published (both counted by the processes' own /metrics, once the pipeline is quiet again):
the CPU per event of each, with the emulator's and PostgreSQL's CPU apart.
Then ``--reference-rounds`` pairs of alternating runs with one consumer process each: the
project's worker, and bench/bare_worker.py, which runs the same statements and SQS calls with
nothing around them (as bench/bare_app.py does for the APIs). The last line is their summary:
the CPU per message of each, and per pair the bare consumer's over the worker's (1.0: the
worker costs what the bare calls cost; lower: what the worker adds). The absolute figure
depends on the machine; the ratio, measured in the same run, much less.
It asserts nothing.

    .venv/bin/python -m bench.pipeline_load --workers 1,2,4 --orders 400
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg2
import requests
from prometheus_client.parser import text_string_to_metric_families

from bench.compare import bench_auth
from bench.measure import Processes, free_port, spread, tree_cpu_seconds
from bench.pairs import reference_summary, run_plan
from order_local import machine, stack
from order_local.ports import Ports
from order_platform import launch, telemetry
from order_platform.processes import RELAY, WORKER, WRITE_API

PYTHON = sys.executable


def _cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User+system CPU of each process and its descendants (ended ones included), by name."""
    return {name: tree_cpu_seconds(pid) for name, pid in pids.items()}


def _metric_sum(url: str, name: str) -> float:
    """The sum of every sample named ``name`` at ``url``/metrics."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples if sample.name == name)


def _events(worker_urls: list[str], relay_url: str) -> tuple[float, float, float]:
    """Messages the workers handled, events the relay published, receives the workers made,
    so far."""
    def workers(metric: telemetry.Metric) -> float:
        return sum(_metric_sum(u, metric.name) for u in worker_urls)
    return (workers(telemetry.MESSAGES_HANDLED),
            _metric_sum(relay_url, telemetry.OUTBOX_PUBLISHED.name), workers(telemetry.RECEIVES))


def _quiet(worker_urls: list[str], relay_url: str,
           timeout: float = 30) -> tuple[float, float, float]:
    """Wait until nothing moves for a second (the last events handled, bounded); the counts.
    Receives do not count as movement: short long polls (``WORKER_POLL_WAIT_SECONDS``) come
    back empty every second."""
    deadline = time.monotonic() + timeout
    last = _events(worker_urls, relay_url)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = _events(worker_urls, relay_url)
        still = now[:2] == last[:2]
        last = now
        if still and _metric_sum(relay_url, telemetry.OUTBOX_BACKLOG.name) == 0:
            break
    return last


def _post_orders(api: str, product_id: str, total: int, concurrency: int,
                 auth: dict[str, str]) -> list[str]:
    ids: list[str] = []

    def post(session: requests.Session, index: int) -> None:
        resp = session.post(f"{api}/orders", timeout=30, headers=auth, json={
            "items": [{"product_id": product_id, "quantity": 1}]})
        if resp.status_code == 202:
            ids.append(resp.json()["id"])  # list.append is atomic

    spread(total, concurrency, post)
    return ids


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    s = sorted(values)
    pick = lambda p: round(s[min(len(s) - 1, int(p / 100 * len(s)))], 1)  # noqa: E731
    return {"p50": pick(50), "p90": pick(90), "p99": pick(99), "max": round(s[-1], 1)}


def _product(conn, stock: int) -> str:
    with conn.cursor() as cur:
        cur.execute("INSERT INTO products (sku, name, price_cents, stock) VALUES (%s, 'bench', "
                    "100, %s) RETURNING id", (f"BENCH-{uuid.uuid4().hex[:10]}", stock))
        return str(cur.fetchone()[0])


def _wait_settled(conn, product_id: str, count: int, deadline: float) -> int:
    """Poll until ``count`` orders of the product are settled or ``deadline`` passes; how
    many are."""
    while (done := _settled(conn, product_id)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return done


def _settled(conn, product_id: str) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM orders o JOIN order_lines l ON l.order_id = o.id "
                    "WHERE l.product_id = %s AND o.status IN ('CONFIRMED', 'REJECTED')",
                    (product_id,))
        return cur.fetchone()[0]


def warm_up(conn, api: str, *, orders: int, concurrency: int, timeout: float,
            worker_urls: list[str], relay_url: str, auth: dict[str, str]) -> None:
    """Run ``orders`` through the pipeline, unmeasured: every process has opened its pooled
    connections (each costs a SCRAM handshake) and made its first SDK calls (which load and
    cache models) before the measurement starts, so it counts the steady state only. Returns
    once the last of their messages (the evictions) is handled."""
    product_id = _product(conn, orders)
    ids = _post_orders(api, product_id, orders, concurrency, auth)
    if _wait_settled(conn, product_id, len(ids), time.monotonic() + timeout) < len(ids):
        raise RuntimeError(f"the warm-up's {orders} orders did not settle in {timeout:g}s")
    _quiet(worker_urls, relay_url)


def run_once(conn, api: str, *, workers: int, orders: int, concurrency: int, timeout: float,
             pids: dict[str, int], worker_urls: list[str], relay_url: str,
             auth: dict[str, str], consumer: str = "worker") -> dict:
    """One measurement with ``workers`` consumer processes (of ``consumer``) running."""
    product_id = _product(conn, orders)
    events_before = _events(worker_urls, relay_url)
    cpu_before = _cpu_seconds(pids)
    started = time.monotonic()
    ids = _post_orders(api, product_id, orders, concurrency, auth)
    posted = time.monotonic()
    done = _wait_settled(conn, product_id, len(ids), posted + timeout)
    finished = time.monotonic()
    handled, published, receives = (after - before for after, before in
                          zip(_quiet(worker_urls, relay_url), events_before, strict=True))
    cpu_after = _cpu_seconds(pids)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT extract(epoch FROM c.occurred_at - p.occurred_at) * 1000 "
            "FROM order_lines l "
            "JOIN order_status_history p ON p.order_id = l.order_id AND p.status = 'PENDING' "
            "JOIN order_status_history c ON c.order_id = l.order_id AND c.status = 'CONFIRMED' "
            "WHERE l.product_id = %s", (product_id,))
        latencies = [float(r[0]) for r in cur.fetchall()]
        cur.execute("SELECT stock FROM products WHERE id = %s", (product_id,))
        stock_left = cur.fetchone()[0]
    elapsed = finished - started
    cpu = {k: cpu_after[k] - cpu_before.get(k, 0.0) for k in cpu_after}
    consumer_cpu = sum(v for k, v in cpu.items() if k.startswith(f"{consumer}-"))
    per_message = round(1000 * consumer_cpu / handled, 3) if handled else None
    return {
        "consumer": consumer,
        "workers": workers,
        "orders_posted": len(ids),
        "orders_done": done,
        "confirmed": len(latencies),
        "stock_left": stock_left,
        "post_per_s": round(len(ids) / (posted - started), 1),
        "confirmed_per_s": round(len(latencies) / elapsed, 1),
        "seconds": round(elapsed, 2),
        "post_to_confirmed_ms": _percentiles(latencies),
        "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
        "messages_handled": int(handled),
        "events_published": int(published),
        "messages_per_receive": round(handled / receives, 2) if receives else None,
        "consumer_cpu_ms_per_message": per_message,
        "relay_cpu_ms_per_event": round(1000 * cpu["relay"] / published, 3) if published else None,
        "complete": done >= len(ids) == orders,
    }


def start_consumers(procs: Processes, kind: str, count: int,
                    worker_concurrency: int) -> tuple[list[str], list[str]]:
    """``count`` processes of ``kind`` on the worker's environment; their names and URLs."""
    names, urls = [f"{kind}-{count}-{i}" for i in range(count)], []
    command = (launch.command(WORKER) if kind == "worker"
               else [PYTHON, "-m", "bench.bare_worker"])
    for name in names:
        port = free_port()
        urls.append(f"http://127.0.0.1:{port}")
        procs.start(name, command, f"{urls[-1]}/readyz",
                    {**launch.environment(WORKER), "HEALTH_PORT": str(port),
                     "WORKER_CONCURRENCY": str(worker_concurrency)})
    return names, urls


def main(argv: list[str] | None = None) -> int:
    """Start the platform, measure each worker count, print one JSON line per run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30,
                        help="orders run through every new set of workers before measuring")
    parser.add_argument("--concurrency", type=int, default=8, help="POSTing threads")
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=300, help="per run, after POSTs")
    parser.add_argument("--reference-rounds", type=int, default=3,
                        help="pairs of one-process runs, the worker and the bare consumer")
    parser.add_argument("--pg-system-user", default=machine.DEFAULT_SYSTEM_USER,
                        help="the account PostgreSQL runs as under root")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")]
    if not (1 <= args.orders <= 100_000 and all(1 <= n <= 16 for n in counts)
            and 0 <= args.reference_rounds <= 20):
        parser.error("--orders must be 1..100000, each worker count 1..16, "
                     "--reference-rounds 0..20")

    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
        ports = Ports.free()
        backing = stack.start_backing(Path(tmp), ports, args.pg_system_user)
        procs = Processes(backing.contract, Path(tmp))
        conn = None
        try:
            api = ports.url(WRITE_API.role)
            procs.start("write-api", launch.command(WRITE_API, host="127.0.0.1",
                                                    port=ports[WRITE_API.role]),
                        f"{api}/readyz", launch.environment(WRITE_API))
            procs.start("relay", launch.command(RELAY), f"{ports.url(RELAY.role)}/readyz",
                        {**launch.environment(RELAY), "HEALTH_PORT": str(ports[RELAY.role])})
            conn = psycopg2.connect(host="127.0.0.1", port=ports.postgres, dbname=stack.APP_DB,
                                    user=stack.APP_ROLE,
                                    password=(Path(tmp) / "app.password").read_text().strip(),
                                    sslmode="verify-full",
                                    sslrootcert=str(backing.writer.ca_file))
            auth = bench_auth(backing)
            conn.autocommit = True
            runs = run_plan(counts, args.reference_rounds)
            reference = []
            for number, (kind, count) in enumerate(runs):
                names, urls = start_consumers(procs, kind, count, args.worker_concurrency)
                pids = {name: procs.running[name].pid for name in
                        ("write-api", "relay", *names)}
                pids["postgres"] = backing.pg.pid
                pids["moto"] = backing.aws.pid
                relay_url = ports.url(RELAY.role)
                warm_up(conn, api, orders=args.warmup, concurrency=args.concurrency,
                        timeout=args.timeout, worker_urls=urls, relay_url=relay_url, auth=auth)
                result = run_once(conn, api, workers=count, orders=args.orders,
                                  concurrency=args.concurrency, timeout=args.timeout, pids=pids,
                                  worker_urls=urls, relay_url=relay_url, consumer=kind,
                                  auth=auth)
                result["worker_concurrency"] = args.worker_concurrency
                result["cores"] = os.cpu_count()
                print(json.dumps(result), flush=True)
                if number >= len(counts):
                    reference.append(result)
                for name in names:
                    procs.stop(name)
            if reference:
                print(json.dumps(reference_summary(reference)), flush=True)
        finally:
            if conn is not None:
                conn.close()
            procs.stop_all()
            backing.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
