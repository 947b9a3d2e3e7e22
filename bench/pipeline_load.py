"""Pipeline throughput: orders per second from POST /orders to CONFIRMED, with N workers.

Self-contained and bounded: it starts its own PostgreSQL (writer and streaming reader) and moto
server in a temporary directory on free 127.0.0.1 ports, the write API (gunicorn), one relay
and N worker processes, then for each N in ``--workers``:

0. runs ``--warmup`` orders through, unmeasured (connections opened, first SDK calls made);
1. creates a product with enough stock for every order;
2. measures the writer while nothing happens (``--idle-seconds``; bench/writer_watch.py);
3. POSTs ``--orders`` orders from ``--concurrency`` threads;
4. polls the reader until every order is CONFIRMED (or ``--timeout`` passes).

It prints, per N, orders/s from the first POST to the last CONFIRMED, the POST rate, the
POST->CONFIRMED latency percentiles, and the CPU seconds each process used. It divides the
workers' CPU by the messages they handled and the relay's by the events it published (counted
by their own /metrics once the pipeline is quiet): the CPU per event of each, the emulator's
and PostgreSQL's apart. ``writer`` gives, per order and net of the idle window's rate, the
writer's CPU (its whole process tree), transactions, statements by kind, WAL and rows per
table (bench/writer_cost.py), and the idle writer's figures per second.
Then ``--reference-rounds`` pairs of alternating runs with one consumer process each: the
project's worker, and bench/bare_worker.py (the same statements and SQS calls with nothing
around them); per pair the bare consumer's CPU per message over the worker's.
The last line is the summary: the pairs, and pgbench's TPC-B-like transaction run on the same
writer with ``--concurrency`` clients, whose server CPU per transaction is the unit of
``writer_cost_in_pgbench_transactions``: the median worker run's writer CPU per order in
pgbench transactions, a figure that depends far less on the machine than either alone.
It asserts nothing.

    .venv/bin/python -m bench.pipeline_load --workers 1,2,4 --orders 400
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg2
import requests

from bench import writer_cost
from bench.compare import bench_auth
from bench.measure import (
    Processes,
    free_port,
    metric_sum,
    percentiles,
    spread,
    tree_cpu_seconds,
    unwind_on_sigterm,
)
from bench.pairs import reference_summary, run_plan
from bench.pipeline_options import options
from bench.writer_watch import WriterWatch, pgbench_figures, summary
from order_local import postgres as pg
from order_local import stack
from order_local.ports import Ports
from order_platform import launch, telemetry
from order_platform.processes import RELAY, WORKER, WRITE_API

PYTHON = sys.executable


def _events(worker_urls: list[str], relay_url: str) -> tuple[float, float, float]:
    """Messages the workers handled, events the relay published, receives the workers made,
    so far."""
    def workers(metric: telemetry.Metric) -> float:
        return sum(metric_sum(u, metric.name) for u in worker_urls)
    return (workers(telemetry.MESSAGES_HANDLED),
            metric_sum(relay_url, telemetry.OUTBOX_PUBLISHED.name), workers(telemetry.RECEIVES))


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
        if still and metric_sum(relay_url, telemetry.OUTBOX_BACKLOG.name) == 0:
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


def _product(conn, stock: int) -> str:
    with conn.cursor() as cur:
        cur.execute("INSERT INTO products (sku, name, price_cents, stock) VALUES (%s, 'bench', "
                    "100, %s) RETURNING id", (f"BENCH-{uuid.uuid4().hex[:10]}", stock))
        return str(cur.fetchone()[0])


def _wait_settled(conn, product_id: str, count: int, deadline: float) -> int:
    """Poll until ``count`` orders of the product are settled or ``deadline`` passes; how
    many are."""
    with conn.cursor() as cur:
        while True:
            cur.execute("SELECT count(*) FROM orders o JOIN order_lines l ON l.order_id = o.id"
                        " WHERE l.product_id = %s AND o.status IN ('CONFIRMED', 'REJECTED')",
                        (product_id,))
            if (done := cur.fetchone()[0]) >= count or time.monotonic() >= deadline:
                return done
            time.sleep(0.05)


def warm_up(conn, reader, api: str, *, orders: int, concurrency: int, timeout: float,
            worker_urls: list[str], relay_url: str, auth: dict[str, str]) -> None:
    """Run ``orders`` through the pipeline, unmeasured: every process has opened its pooled
    connections (each costs a SCRAM handshake) and made its first SDK calls (which load and
    cache models) before the measurement starts, so it counts the steady state only. Returns
    once the last of their messages (the evictions) is handled."""
    product_id = _product(conn, orders)
    ids = _post_orders(api, product_id, orders, concurrency, auth)
    if _wait_settled(reader, product_id, len(ids), time.monotonic() + timeout) < len(ids):
        raise RuntimeError(f"the warm-up's {orders} orders did not settle in {timeout:g}s")
    _quiet(worker_urls, relay_url)


def run_once(reader, api: str, product_id: str, *, workers: int, orders: int,
             concurrency: int, timeout: float, pids: dict[str, int], worker_urls: list[str],
             relay_url: str, caught_up: Callable[[], None], auth: dict[str, str],
             consumer: str = "worker") -> dict:
    """One measurement with ``workers`` consumer processes (of ``consumer``) running, on a
    product made beforehand; every query of its own goes to the ``reader``, once
    ``caught_up`` says it has replayed everything the writer had."""
    events_before = _events(worker_urls, relay_url)
    cpu_before = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
    started = time.monotonic()
    ids = _post_orders(api, product_id, orders, concurrency, auth)
    posted = time.monotonic()
    done = _wait_settled(reader, product_id, len(ids), posted + timeout)
    finished = time.monotonic()
    handled, published, receives = (after - before for after, before in
                          zip(_quiet(worker_urls, relay_url), events_before, strict=True))
    cpu_after = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
    caught_up()
    with reader.cursor() as cur:
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
        "post_to_confirmed_ms": percentiles(latencies),
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
    """Start the platform, measure each worker count, print one JSON line per run, then the
    summary: the pairs, and the writer against pgbench."""
    unwind_on_sigterm()
    args = options(argv, __doc__.splitlines()[0])
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
        ports = Ports.free()
        backing = stack.start_backing(Path(tmp), ports, args.pg_system_user,
                                      writer_settings=writer_cost.SETTINGS)
        procs = Processes(backing.contract, Path(tmp))
        conns: list = []
        try:
            api = ports.url(WRITE_API.role)
            procs.start("write-api", launch.command(WRITE_API, host="127.0.0.1",
                                                    port=ports[WRITE_API.role]),
                        f"{api}/readyz", launch.environment(WRITE_API))
            procs.start("relay", launch.command(RELAY), f"{ports.url(RELAY.role)}/readyz",
                        {**launch.environment(RELAY), "HEALTH_PORT": str(ports[RELAY.role])})
            password = (Path(tmp) / "app.password").read_text().strip()
            conn, reader, admin = conns[:] = [
                psycopg2.connect(host=host, port=ports.postgres, dbname=stack.APP_DB,
                                 user=stack.APP_ROLE, password=password, sslmode="verify-full",
                                 sslrootcert=str(backing.writer.ca_file))
                for host in (backing.writer.host, backing.reader.host)] + [
                psycopg2.connect(**backing.writer.superuser_dsn(stack.APP_DB))]
            for c in conns:
                c.autocommit = True
            auth = bench_auth(backing)
            watch = WriterWatch(admin, backing.pg.pid, stack.APP_ROLE, stack.APP_DB,
                                idle_seconds=args.idle_seconds)
            reference: list[dict] = []
            writer_runs: list[dict] = []
            for number, (kind, count) in enumerate(run_plan(args.counts, args.reference_rounds)):
                names, urls = start_consumers(procs, kind, count, args.worker_concurrency)
                pids = {name: procs.running[name].pid for name in
                        ("write-api", "relay", *names)}
                pids["postgres"] = backing.pg.pid
                pids["moto"] = backing.aws.pid
                relay_url = ports.url(RELAY.role)
                warm_up(conn, reader, api, orders=args.warmup, concurrency=args.concurrency,
                        timeout=args.timeout, worker_urls=urls, relay_url=relay_url, auth=auth)
                product_id = _product(conn, args.orders)
                # The worker's runs also measure the writer; the bare consumer runs its SQL.
                # Each measurement waits twice for PostgreSQL's counters (writer_cost).
                measured = kind == "worker" and len(writer_runs) < args.writer_runs
                before = watch.idle_window() if measured else None
                result = run_once(reader, api, product_id, workers=count, orders=args.orders,
                                  concurrency=args.concurrency, timeout=args.timeout, pids=pids,
                                  worker_urls=urls, relay_url=relay_url, consumer=kind,
                                  caught_up=backing.reader.wait_caught_up, auth=auth)
                result["worker_concurrency"] = args.worker_concurrency
                result["cores"] = os.cpu_count()
                if before is not None:
                    result["writer"] = watch.report(before, result["orders_posted"])
                    writer_runs.append(result["writer"])
                print(json.dumps(result), flush=True)
                if number >= len(args.counts):
                    reference.append(result)
                for name in names:
                    procs.stop(name)
            pgbench = pgbench_figures(
                # Over the server's socket, as the TLS front reaches it: the wheel's libpq has
                # no TLS, and the server's side of both is the same.
                watch, pg.bin_path("pgbench"),
                {**backing.writer.superuser_dsn(), "host": str(backing.writer.socket_dir())},
                clients=args.concurrency, scale=args.concurrency,
                transactions_per_client=args.pgbench_transactions)
            print(json.dumps({**(reference_summary(reference) if reference else {}),
                              **summary(writer_runs, pgbench)}), flush=True)
        finally:
            for c in conns:
                c.close()
            procs.stop_all()
            backing.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
