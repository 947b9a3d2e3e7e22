"""A bounded local load on the APIs: POST /orders, then GET /orders/{id}.

Run it against a platform started with `make dev` (or any write/read API pair):

    .venv/bin/python -m bench.api_load --requests 2000 --concurrency 8

It creates one product with a random SKU, places ``--requests`` orders for it through
the write API, then reads ``--requests`` of them back through the read API, each phase
from ``--concurrency`` threads with keep-alive sessions. Every loop is bounded by the
request count. It prints throughput and latency percentiles; it asserts nothing about
them, because the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.measure import spread
from order_local import identity
from order_platform.domain.access import Role


@dataclass
class PhaseResult:
    """What one phase measured."""

    name: str
    requests: int
    seconds: float
    latencies_ms: list[float]
    statuses: Counter

    def summary(self) -> dict:
        """Throughput, latency percentiles and status counts."""
        lat = sorted(self.latencies_ms)

        def pct(p: float) -> float:
            return round(lat[min(len(lat) - 1, int(p / 100 * len(lat)))], 2)

        return {
            "phase": self.name,
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "req_per_s": round(self.requests / self.seconds, 1),
            "latency_ms": {"mean": round(statistics.fmean(lat), 2), "p50": pct(50),
                           "p90": pct(90), "p99": pct(99), "max": round(lat[-1], 2)},
            "statuses": dict(self.statuses),
        }


def run_phase(name: str, total: int, concurrency: int,
              call: Callable[[requests.Session, int], requests.Response]) -> PhaseResult:
    """Issue ``total`` calls from ``concurrency`` threads; time each one."""
    latencies: list[float] = []
    statuses: Counter = Counter()
    lock = threading.Lock()

    def timed(session: requests.Session, index: int) -> None:
        started = time.perf_counter()
        try:
            status: int | str = call(session, index).status_code
        except requests.RequestException as exc:
            status = type(exc).__name__
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            latencies.append(elapsed)
            statuses[status] += 1

    started = time.perf_counter()
    spread(total, concurrency, timed)
    return PhaseResult(name, total, time.perf_counter() - started, latencies, statuses)


def main(argv: list[str] | None = None) -> int:
    """Run both phases and print a JSON summary per phase."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-url", default="http://127.0.0.1:3000")
    parser.add_argument("--read-url", default="http://127.0.0.1:3001")
    parser.add_argument("--requests", type=int, default=2000, help="per phase")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--data-dir", type=Path, default=Path(".local"),
                        help="the local platform whose user pool issues the bench's token")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 1_000_000 or not 1 <= args.concurrency <= 256:
        parser.error("--requests must be 1..1000000 and --concurrency 1..256")

    # One customer with every role: it restocks, orders and reads its orders back.
    token = identity.running_platform(args.data_dir).customer_token(
        "bench", Role.ADMIN, Role.SUPPORT)
    auth = {"Authorization": f"Bearer {token}"}
    sku = f"BENCH-{uuid.uuid4().hex[:10]}"
    created = requests.post(f"{args.write_url}/products", timeout=10, headers=auth, json={
        "sku": sku, "name": "Load-test product", "price_cents": 100, "stock": 1_000_000})
    if created.status_code != 201:
        print(f"cannot create the bench product: {created.status_code} {created.text}",
              file=sys.stderr)
        return 1

    order_ids: list[str] = []
    ids_lock = threading.Lock()

    def place(session: requests.Session, index: int) -> requests.Response:
        response = session.post(f"{args.write_url}/orders", timeout=30, headers=auth, json={
            "items": [{"sku": sku, "quantity": 1}]})
        if response.status_code == 202:
            with ids_lock:
                order_ids.append(response.json()["id"])
        return response

    writes = run_phase("POST /orders", args.requests, args.concurrency, place)
    print(json.dumps(writes.summary()), flush=True)
    if not order_ids:
        print("no order was accepted; nothing to read", file=sys.stderr)
        return 1

    def read(session: requests.Session, index: int) -> requests.Response:
        return session.get(f"{args.read_url}/orders/{order_ids[index % len(order_ids)]}",
                           timeout=30, headers=auth)

    reads = run_phase("GET /orders/{id}", args.requests, args.concurrency, read)
    print(json.dumps(reads.summary()), flush=True)
    failed = sum(n for s, n in (writes.statuses + reads.statuses).items()
                 if s not in (200, 202))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
