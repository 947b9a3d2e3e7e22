"""The metric catalogue as the processes use it: who emits what, who may scrape, and the
daemons' /metrics next to their probes."""

from __future__ import annotations

import pytest
import requests

from order_platform import processes, telemetry
from order_platform.adapters.metrics import Instruments, may_scrape
from order_platform.entrypoints.probes import ProbeServer
from order_platform.entrypoints.web.request_metrics import RequestMetrics
from tests.support.scrape import labels_of, parse, value


def test_every_metric_of_the_catalogue_is_emitted_by_a_deployed_process():
    emitted = {m.name for p in processes.DEPLOYED for m in telemetry.emitted_by(p)}
    assert emitted == set(telemetry.METRICS)


@pytest.mark.parametrize(("proc", "has", "lacks"), [
    (processes.WRITE_API, telemetry.HTTP_REQUESTS, telemetry.OUTBOX_BACKLOG),
    (processes.READ_API, telemetry.DB_POOL_WAIT, telemetry.MESSAGES_HANDLED),
    (processes.WORKER, telemetry.ORDER_SETTLE, telemetry.HTTP_REQUESTS),
    (processes.RELAY, telemetry.OUTBOX_BACKLOG, telemetry.MESSAGES_RECEIVED),
])
def test_a_process_shows_only_what_it_measures(proc, has, lacks):
    emitted = telemetry.emitted_by(proc)
    assert has in emitted and lacks not in emitted


@pytest.mark.parametrize(("address", "allowed"), [
    ("127.0.0.1", True), ("10.0.3.7", True), ("172.20.1.1", True), ("192.168.0.9", True),
    ("100.64.12.1", True), ("::1", True), ("8.8.8.8", False), ("2001:4860::8888", False),
    ("", False), (None, False), ("not-an-address", False),
])
def test_only_addresses_off_the_internet_may_scrape(address, allowed):
    assert may_scrape(address) is allowed


def test_unknown_methods_share_one_label_so_series_stay_bounded():
    instruments = Instruments(telemetry.API_METRICS)
    requests_metrics = RequestMetrics(instruments)
    for method in ("GET", "BREW", "XYZZY", "GET"):
        requests_metrics.record("/orders", method, 200, 0.01)
    samples = parse(instruments.exposition()[0].decode())
    assert sorted(ls["method"] for ls in labels_of(samples, telemetry.HTTP_REQUESTS.name)) \
        == ["GET", "OTHER"]
    assert value(samples, telemetry.HTTP_REQUESTS.name, method="OTHER") == 2


def test_a_daemon_answers_metrics_on_its_probe_port():
    instruments = Instruments(telemetry.RELAY_METRICS)
    instruments[telemetry.OUTBOX_BACKLOG].set(7)
    server = ProbeServer(0, alive=lambda: True, ready=lambda: True,
                         metrics=instruments.exposition, host="127.0.0.1").start()
    try:
        response = requests.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
    finally:
        server.stop()
    assert response.status_code == 200
    assert value(parse(response.text), telemetry.OUTBOX_BACKLOG.name) == 7
