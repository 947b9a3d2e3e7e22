"""Every alarm and every dashboard query of every stack reads a series the collector really sends.

Real processes (both APIs under gunicorn, the worker and the relay) take real traffic: an order
placed, read and settled, the kubelet's probes, and one 5xx from each API (a statement that
PostgreSQL cancels behind a lock: a 503). Their ``/metrics`` then go through each stack's
generated collector config with the collector's own rules (``tests.support.collector_rules``):
pod discovery from the synthesized Deployments, the scrape jobs' relabelling, the receiver, the
filter and the awsemf exporter's metric declarations. What comes out is what CloudWatch would hold.
"""

from __future__ import annotations

import json
import re
import threading
from contextlib import ExitStack

import psycopg2
import pytest
import requests

from infra.simulation import StackRun, stack_names
from order_platform import telemetry
from order_platform.processes import DEPLOYED, READ_API, process
from tests.e2e.pipeline.conftest import Services, wait_status
from tests.infra.helpers import deployments, one
from tests.integration.pipeline.harness import make_pipeline
from tests.policies.stacks import shipped_run
from tests.support import collector_rules as rules
from tests.support.platform import free_port
from tests.support.processes import command, environment

pytestmark = pytest.mark.e2e

COLLECTOR = "kubernetes:opentelemetry.io/v1beta1:OpenTelemetryCollector"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
POD_IP = "10.30.17.4"
PASS_THROUGH = ("memory_limiter", "batch", "cumulativetodelta")
"""Processors that change values or timing, never which metrics or labels there are."""


def _post_order(pipeline, api: str, product_id: str) -> requests.Response:
    return requests.post(f"{api}/orders", timeout=30, headers=pipeline.bearer("mapping"), json={
        "items": [{"product_id": product_id, "quantity": 1}]})


def _one_5xx_each(pipeline, pg_server, urls: dict[str, str], order_id: str) -> dict[str, int]:
    """Hold an exclusive lock on ``orders``: the write API's insert gives up at its lock timeout
    and the read API's select at its statement timeout, each answering 503."""
    answers: dict[str, int] = {}
    calls = {"write-api": lambda: _post_order(pipeline, urls["write-api"],
                                              pipeline.add_product(stock=5)),
             "read-api": lambda: requests.get(f"{urls['read-api']}/orders/{order_id}",
                                              timeout=30, headers=pipeline.bearer("mapping"))}
    conn = psycopg2.connect(**pg_server.superuser_dsn(pipeline.settings.db_name))
    try:
        with conn.cursor() as cur:
            cur.execute("SET idle_in_transaction_session_timeout = '30s'")
            cur.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        threads = [threading.Thread(
            target=lambda r=role, c=call: answers.update({r: c().status_code}))
            for role, call in calls.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        conn.rollback()
        conn.close()
    return answers


@pytest.fixture(scope="module")
def expositions(pg_server, aws_endpoint, aws_credentials_env, tmp_path_factory) -> dict[str, str]:
    """Each deployed process's ``/metrics`` after real traffic, by role."""
    pipeline = make_pipeline(pg_server, aws_endpoint)
    try:
        with ExitStack() as stack:
            services = Services(pipeline, tmp_path_factory.mktemp("mapping"), stack)
            read_port = free_port()
            services.start("read-api", command(READ_API, read_port), environment(READ_API),
                           port=read_port)
            urls = {"write-api": services.write_api(),
                    "read-api": f"http://127.0.0.1:{read_port}",
                    "worker": f"http://127.0.0.1:{services.worker().port}",
                    "relay": f"http://127.0.0.1:{services.relay().port}"}
            placed = _post_order(pipeline, urls["write-api"], pipeline.add_product(stock=5))
            assert placed.status_code == 202, placed.text
            order_id = placed.json()["id"]
            wait_status(pipeline, order_id, {"CONFIRMED"})
            assert requests.get(f"{urls['read-api']}/orders/{order_id}", timeout=30,
                                headers=pipeline.bearer("mapping")).ok
            for role, url in urls.items():  # the kubelet's probes
                for path in (process(role).probes.liveness, process(role).probes.readiness):
                    assert requests.get(f"{url}{path}", timeout=30).ok, (role, path)
            assert _one_5xx_each(pipeline, pg_server, urls, order_id) == {
                "write-api": 503, "read-api": 503}
            return {role: requests.get(f"{url}{telemetry.METRICS_PATH}", timeout=30).text
                    for role, url in urls.items()}
    finally:
        pipeline.close()


def emitted(run: StackRun, expositions: dict[str, str]) -> set[tuple]:
    """The CloudWatch metrics the stack's collector makes of the processes' expositions."""
    collectors = run.of_type(COLLECTOR)
    if not collectors:
        return set()
    config = rules.unescape(one(run, COLLECTOR).inputs["spec"]["config"])
    points: set[rules.Point] = set()
    for job in config["receivers"]["prometheus"]["config"]["scrape_configs"]:
        (discovery,) = job["kubernetes_sd_configs"]
        for role, deployment in deployments(run).items():
            namespace = deployment.inputs["metadata"]["namespace"]
            if discovery["role"] != "pod" or namespace not in discovery["namespaces"]["names"]:
                continue
            template = deployment.inputs["spec"]["template"]
            for found in rules.pod_targets(template, namespace, f"{role}-5d8f7-x2k4q", POD_IP):
                target = rules.scrape_target(job, found)
                if target is None:
                    continue
                # The target is the process's own port and path: what the test scraped.
                assert (target.address, target.path) == (
                    f"{POD_IP}:{process(role).probe_port}", telemetry.METRICS_PATH), role
                points |= rules.receive(expositions[role], job, target)
    metrics = config["service"]["pipelines"]["metrics"]
    for name in metrics["processors"]:
        if name.split("/")[0] == "filter":
            points = rules.kept_by_filter(points, config["processors"][name])
        else:
            assert name.split("/")[0] in PASS_THROUGH, f"the test does not know {name}"
    assert metrics["exporters"] == ["awsemf"]
    return rules.cloudwatch_metrics(points, config["exporters"]["awsemf"])


_SEARCH = re.compile(r"""SEARCH\('\{"([^"]+)",([^}]*)\} MetricName="([^"]+)"'""")


def queries(run: StackRun) -> list[tuple[str, str, str, object]]:
    """(where, namespace, metric, dimensions) of every alarm and widget: a dict of dimensions,
    or a frozenset of dimension names for a SEARCH."""
    found = []
    for alarm in run.of_type(ALARM):
        inputs = alarm.inputs
        reads = [q["metric"] for q in inputs.get("metricQueries", []) if "metric" in q] or [
            {k: inputs.get(k) for k in ("namespace", "metricName", "dimensions")}]
        found += [(f"alarm {inputs['name']}", m["namespace"], m["metricName"],
                   m.get("dimensions") or {}) for m in reads]
    for widget in json.loads(one(run, DASHBOARD).inputs["dashboardBody"])["widgets"]:
        title = widget["properties"].get("title", "text")
        for row in widget["properties"].get("metrics", []):
            if isinstance(row[0], str):
                cells = [c for c in row if not isinstance(c, dict)]
                found.append((f"widget {title!r}", cells[0], cells[1],
                              dict(zip(cells[2::2], cells[3::2], strict=True))))
            for ns, dims, name in _SEARCH.findall(row[0].get("expression", "")
                                                  if isinstance(row[0], dict) else ""):
                found.append((f"widget {title!r}", ns, name,
                              frozenset(d.strip() for d in dims.split(",") if d.strip())))
    return found


def _reads_something(query: tuple, made: set[tuple]) -> bool:
    _, namespace, name, dimensions = query
    if isinstance(dimensions, frozenset):  # SEARCH: this schema, any values
        return any(m[:2] == (namespace, name) and {d for d, _ in m[2]} == dimensions
                   for m in made)
    return (namespace, name, frozenset(dimensions.items())) in made


@pytest.mark.parametrize("stack", stack_names())
def test_every_alarm_and_dashboard_query_reads_a_series_the_collector_sends(stack, expositions):
    assert set(expositions) == {p.role for p in DEPLOYED}
    run = shipped_run(stack)  # shared with the other tests of this process
    made = emitted(run, expositions)
    namespace = f"order-platform-{stack}"
    ours = [q for q in queries(run) if q[1] == namespace]
    if not run.of_type(COLLECTOR):
        assert ours == [] and made == set()  # no collector: nothing reads its metrics
        return
    assert len(ours) > 20, ours  # the API alarms, the heartbeats and the widgets
    blind = [f"{where}: {name} {dims}" for where, _, name, dims in ours
             if not _reads_something((where, namespace, name, dims), made)]
    sent = sorted(f"{name} {dict(sorted(dims))}" for _, name, dims in made)
    assert blind == [], "\n".join(["reads nothing the collector sends:", *blind, "sent:", *sent])
