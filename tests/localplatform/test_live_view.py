"""The live view's arithmetic on exposition text that prometheus_client itself writes, from the
metric catalogue: rates between two scrapes, quantiles from bucket deltas, the queue table."""

from __future__ import annotations

import io
import re

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from rich.console import Console

from order_local.live.figures import APIS, EMULATOR, Depth, Snapshot, frame
from order_local.live.metrics import bucket_increase, increase, parse, quantile
from order_local.live.view import render
from order_platform import telemetry, topology
from order_platform.processes import DEPLOYED, READ_API, RELAY, WORKER, WRITE_API

KINDS = {telemetry.Kind.COUNTER: Counter, telemetry.Kind.GAUGE: Gauge,
         telemetry.Kind.HISTOGRAM: Histogram}
EVERY_METRIC = tuple(telemetry.METRICS.values())


class Process:
    """One process's instruments, made from the catalogue as the services make theirs."""

    def __init__(self, metrics=EVERY_METRIC) -> None:
        self.registry = CollectorRegistry()
        self.m = {}
        for metric in metrics:
            extra = {"buckets": metric.buckets} if metric.buckets else {}
            self.m[metric.name] = KINDS[metric.kind](metric.name, metric.help, metric.labels,
                                                     registry=self.registry, **extra)

    def __getitem__(self, metric: telemetry.Metric):
        return self.m[metric.name]

    def scrape(self):
        return parse(generate_latest(self.registry).decode())


def _snapshot(at, processes, down=(), queues=None):
    return Snapshot(at=at, up={r: r not in down for r in processes},
                    metrics={r: None if r in down else p.scrape() for r, p in processes.items()},
                    queues=queues)


def test_increase_and_quantile_over_the_window_only():
    api = Process()
    duration = api[telemetry.HTTP_DURATION].labels("/orders", "POST")
    for _ in range(1000):
        duration.observe(0.003)  # before the window: must not count
    old = api.scrape()
    for _ in range(100):
        duration.observe(0.2)
    new = api.scrape()
    buckets = bucket_increase(new, old, telemetry.HTTP_DURATION.name)
    assert buckets[0.005] == 0 and buckets[0.25] == 100 and buckets[float("inf")] == 100
    # rank 99 of 100, all in (0.1, 0.25]: interpolated as histogram_quantile does.
    assert quantile(0.99, buckets) == pytest.approx(0.1 + 0.15 * 0.99)
    assert quantile(0.99, bucket_increase(old, {}, telemetry.HTTP_DURATION.name)) == \
        pytest.approx(0.005 * 0.99)


def test_quantile_edges():
    assert quantile(0.99, {}) is None
    assert quantile(0.99, {0.1: 0, float("inf"): 0}) is None
    # Past the last finite bound the buckets can only say "more than 10 s".
    assert quantile(0.99, {1.0: 0, 10.0: 0, float("inf"): 5}) == 10.0


def test_a_counter_that_went_down_was_reset():
    before = Process()
    before[telemetry.OUTBOX_PUBLISHED].labels("OrderCreated").inc(50)
    restarted = Process()
    restarted[telemetry.OUTBOX_PUBLISHED].labels("OrderCreated").inc(7)
    assert increase(restarted.scrape(), before.scrape(),
                    telemetry.OUTBOX_PUBLISHED.name) == 7


def _platform():
    """Each process with what it measures, as the catalogue says."""
    return {p.role: Process(telemetry.emitted_by(p)) for p in DEPLOYED}


def test_a_frame_from_two_snapshots():
    procs = _platform()
    write, read, worker, relay = (procs[r.role] for r in (WRITE_API, READ_API, WORKER, RELAY))
    write[telemetry.HTTP_REQUESTS].labels("/orders", "POST", "202").inc(5)
    old = _snapshot(100.0, procs)
    write[telemetry.HTTP_REQUESTS].labels("/orders", "POST", "202").inc(40)
    write[telemetry.HTTP_REQUESTS].labels("/orders", "POST", "503").inc(2)
    write[telemetry.HTTP_REQUESTS].labels("/products", "POST", "201").inc(3)
    for _ in range(40):
        write[telemetry.HTTP_DURATION].labels("/orders", "POST").observe(0.004)
    read[telemetry.HTTP_REQUESTS].labels("/orders/<uuid:order_id>", "GET", "200").inc(60)
    worker[telemetry.ORDER_SETTLE].labels("CONFIRMED").observe(0.4)
    for _ in range(9):
        worker[telemetry.ORDER_SETTLE].labels("CONFIRMED").observe(0.4)
    worker[telemetry.ORDER_SETTLE].labels("REJECTED").observe(0.6)
    worker[telemetry.MESSAGES_HANDLED].labels("stock-validation", "stock_validated").inc(30)
    worker[telemetry.MESSAGE_AGE].labels("stock-validation").observe(0.07)
    relay[telemetry.OUTBOX_BACKLOG].set(12)
    relay[telemetry.OUTBOX_OLDEST_AGE].set(1.5)
    relay[telemetry.OUTBOX_PUBLISHED].labels("OrderCreated").inc(20)
    depths = {q.key: Depth(3, 1, 0) for q in topology.QUEUES}
    depths[topology.QUEUES[-1].key] = Depth(0, 0, 4)
    f = frame(_snapshot(110.0, procs, queues=depths), old)

    assert f.seconds == 10.0
    assert f.created_per_s == 4.0  # 40 accepted in 10 s; the 503s and the 201s are not orders
    assert f.settled_per_s == {"CONFIRMED": 1.0, "REJECTED": 0.1}
    assert 0.25 < f.settle_p99_s <= 1.0
    assert (f.backlog, f.oldest_age_s, f.parked) == (12, 1.5, 0)
    assert f.published_per_s == 2.0
    rows = {q.queue: q for q in f.queues}
    assert list(rows) == [q.key for q in topology.QUEUES]
    first = rows[topology.QUEUES[0].key]
    assert (first.depth, first.handled_per_s) == (Depth(3, 1, 0), 3.0)
    assert 0.05 < first.lag_p99_s <= 0.1
    assert rows[topology.QUEUES[-1].key].depth.dlq == 4
    apis = {(r.api, r.route): r for r in f.apis}
    whole = apis[(WRITE_API.role, "*")]
    assert (whole.per_s, whole.errors_per_s) == (4.5, 0.2)
    assert 0.0 < whole.p99_s <= 0.005
    assert apis[(WRITE_API.role, "POST /orders")].per_s == 4.2
    assert apis[(READ_API.role, "GET /orders/<uuid:order_id>")].per_s == 6.0
    assert all(f.up.values())


def test_what_is_down_shows_as_down_and_nothing_raises():
    procs = _platform()
    old = _snapshot(0.0, procs)
    f = frame(_snapshot(1.0, procs, down=(WRITE_API.role, RELAY.role), queues=None), old)
    assert f.up[WRITE_API.role] is False and f.up[RELAY.role] is False
    assert f.up[EMULATOR] is False and f.up[READ_API.role] is True
    assert f.created_per_s is None and f.backlog is None and f.published_per_s is None
    assert f.settled_per_s == {}  # the worker answered: nothing settled, which is not unknown
    assert all(q.depth is None for q in f.queues)
    assert {r.api for r in f.apis} == {READ_API.role}
    text = _text(f)
    assert text.count("down") >= 3  # the write API, the relay, the emulator's queues
    for queue in topology.QUEUES:
        assert queue.key in text


def test_a_figure_whose_only_reporter_is_down_is_unknown_not_zero():
    procs = _platform()
    old = _snapshot(0.0, procs)
    f = frame(_snapshot(1.0, procs, down=(WORKER.role,)), old)
    assert f.settled_per_s is None and f.settle_p99_s is None
    assert all(q.handled_per_s is None for q in f.queues)
    assert f.published_per_s == 0.0  # the relay answered: it published nothing
    assert "settled -/s" in _text(f)


def test_an_api_that_answers_without_metrics_is_up_with_no_figures():
    procs = _platform()
    old = _snapshot(0.0, procs)
    new = _snapshot(1.0, procs)
    new = Snapshot(new.at, new.up, {**new.metrics, READ_API.role: None}, new.queues)
    text = _text(frame(new, old))
    assert re.search(rf"{READ_API.role}\s+│ no metrics", text), text
    assert f"{READ_API.role} :1001 up" in text


def test_the_view_shows_every_figure():
    procs = _platform()
    old = _snapshot(0.0, procs)
    procs[RELAY.role][telemetry.OUTBOX_BACKLOG].set(7)
    procs[WRITE_API.role][telemetry.HTTP_REQUESTS].labels("/orders", "POST", "202").inc(3)
    depths = {q.key: Depth(5, 2, 1) for q in topology.QUEUES}
    text = _text(frame(_snapshot(1.0, procs, queues=depths), old))
    assert "created 3.0/s" in text and "backlog 7" in text
    for api in APIS:
        assert api in text
    assert text.count("│ 5 ") == len(topology.QUEUES)


def _text(f) -> str:
    console = Console(file=io.StringIO(), width=140, color_system=None)
    console.print(render(f, {name: 1000 + i for i, name in enumerate(f.up)}))
    return console.file.getvalue()
