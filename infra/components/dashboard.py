"""The stack's CloudWatch dashboard and the API alarms' metric math: pure data.

Widgets are built from the topology's queues (every queue and DLQ the stack creates, by name)
and from the metric catalogue as ``telemetry_pipeline`` exports it (names, dimensions). The
``sqs-queue-has-widget-and-alarm`` policy reads the dashboard body back, so a queue added to the
topology without a widget fails the pack, not just the eye.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from infra.components import alerting
from infra.components import telemetry_pipeline as pipeline

PERIOD_SECONDS = 60
WIDTH, HEIGHT = 12, 6
"""Two widgets a row on CloudWatch's 24-column grid."""
QUANTILES = (50, 99)
P99_SLOWER_PERCENT = 1
"""p99 above a bound is exactly "more than 1% of the requests took longer than the bound"."""
SERVER_ERRORS = "5xx"


@dataclass(frozen=True)
class DashboardArgs:
    """What the dashboard shows: the stack's queues, its APIs, and where their metrics are."""

    region: str
    metrics_namespace: str
    apis: tuple[str, ...]
    """The API process roles (``service`` dimension of the request metrics)."""
    source_queues: tuple[str, ...]
    """Every queue that work waits in, by SQS name: its oldest message's age is plotted."""
    dead_letter_queues: tuple[str, ...]
    """Every DLQ, by SQS name: its visible messages are plotted."""
    collector_enabled: bool
    """Off, nothing sends the services' metrics: their widgets would stay empty."""


def _metric(namespace: str, name: str, dimensions: dict[str, str], **options) -> list:
    row: list = [namespace, name]
    for key, value in dimensions.items():
        row += [key, value]
    return [*row, options] if options else row


def _expression(expression: str, **options) -> list:
    return [{"expression": expression, **options}]


def _graph(title: str, region: str, metrics: list, stat: str = "Sum", **extra) -> dict:
    return {"type": "metric", "properties": {
        "title": title, "region": region, "view": "timeSeries", "stacked": False,
        "period": PERIOD_SECONDS, "stat": stat, "metrics": metrics, **extra}}


def requests_query(namespace: str, api: str, **dimensions: str) -> dict:
    """An API's answered requests a minute (all of them, or those matching ``dimensions``)."""
    return {"namespace": namespace, "metric_name": pipeline.REQUESTS.name,
            "dimensions": {pipeline.SERVICE: api, **dimensions}}


def latency_quantiles(namespace: str, api: str, index: int) -> list:
    """Rows that plot an API's p50 and p99 from its per-bound request counts.

    For each quantile q the chain picks the first bound whose count reaches q% of all requests,
    i.e. the bucket's upper bound (what Prometheus reports before interpolating); 0 when idle.
    """
    bounds = pipeline.latency_bounds()
    rows = [_metric(namespace, pipeline.REQUESTS.name, {pipeline.SERVICE: api, pipeline.LE: le},
                    id=f"a{index}b{i}", visible=False, stat="Sum")
            for i, le in enumerate(bounds)]
    total = f"a{index}b{len(bounds) - 1}"
    finite = bounds[:-1]
    for q in QUANTILES:
        chain = [f"{finite[-1]} + 0 * {total}"]
        for i in range(len(finite) - 2, -1, -1):
            chain.insert(0, f"IF(a{index}b{i} >= {q / 100} * {total}, {finite[i]}, "
                            f"a{index}q{q}c{i + 1})")
        rows += [_expression(text, id=f"a{index}q{q}c{i}", visible=False)
                 for i, text in enumerate(chain)]
        rows.append(_expression(f"IF({total} > 0, a{index}q{q}c0, 0)", id=f"a{index}p{q}",
                                label=f"{api} p{q}"))
    return rows


def error_rate(namespace: str, api: str, index: int) -> list:
    """Rows that plot the share of an API's requests answered 5xx, in percent."""
    every = requests_query(namespace, api)
    errors = requests_query(namespace, api, **{pipeline.STATUS_CLASS: SERVER_ERRORS})
    return [_metric(namespace, every["metric_name"], every["dimensions"], id=f"t{index}",
                    visible=False),
            _metric(namespace, errors["metric_name"], errors["dimensions"], id=f"e{index}",
                    visible=False),
            _expression(f"100 * FILL(e{index}, 0) / t{index}", id=f"r{index}",
                        label=f"{api} 5xx %")]


def _search(namespace: str, metric: str, dimension: str, stat: str) -> str:
    return (f"SEARCH('{{\"{namespace}\",{dimension}}} MetricName=\"{metric}\"', "
            f"'{stat}', {PERIOD_SECONDS})")


def _service_widgets(args: DashboardArgs) -> list[dict]:
    ns, region = args.metrics_namespace, args.region
    if not args.collector_enabled:
        return [{"type": "text", "width": 24, "height": 2, "properties": {"markdown": (
            "**API, outbox and order metrics** need the collector: set `collectorEnabled: true` "
            "for this stack (docs/deploying.md).")}}]
    widgets = [_graph(f"{api}: latency p50 / p99 (s)", region,
                      latency_quantiles(ns, api, index), yAxis={"left": {"min": 0}})
               for index, api in enumerate(args.apis)]
    widgets.append(_graph("API 5xx (% of requests)", region,
                          [row for index, api in enumerate(args.apis)
                           for row in error_rate(ns, api, index)], yAxis={"left": {"min": 0}}))
    backlog, oldest = pipeline.OUTBOX_GAUGES
    widgets.append(_graph("Outbox: backlog (rows) and oldest unpublished row (s)", region, [
        _expression(f"MAX({_search(ns, backlog.name, pipeline.SERVICE, 'Maximum')})",
                    id="backlog", label="backlog"),
        _expression(f"MAX({_search(ns, oldest.name, pipeline.SERVICE, 'Maximum')})",
                    id="oldest", label="oldest age (s)", yAxis="right")], stat="Maximum"))
    widgets.append(_graph("Orders settled per minute, by final status", region, [
        _expression(_search(ns, pipeline.SETTLE.name, pipeline.STATUS, "SampleCount"),
                    id="settled")], stat="SampleCount"))
    return widgets


def _queue_widgets(args: DashboardArgs) -> list[dict]:
    return [
        _graph("Queues: age of the oldest message (s)", args.region, [
            _metric(alerting.SQS_NAMESPACE, alerting.AGE_METRIC, {"QueueName": name},
                    label=name) for name in args.source_queues], stat="Maximum"),
        _graph("Dead-letter queues: visible messages", args.region, [
            _metric(alerting.SQS_NAMESPACE, alerting.DLQ_METRIC, {"QueueName": name},
                    label=name) for name in args.dead_letter_queues], stat="Maximum"),
    ]


def _laid_out(widgets: Sequence[dict]) -> list[dict]:
    placed, x, y = [], 0, 0
    for widget in widgets:
        width, height = widget.get("width", WIDTH), widget.get("height", HEIGHT)
        if x + width > 24:
            x, y = 0, y + HEIGHT
        placed.append({**widget, "x": x, "y": y, "width": width, "height": height})
        x += width
        if x >= 24:
            x, y = 0, y + height
    return placed


def dashboard_body(args: DashboardArgs) -> str:
    """The dashboard's JSON body."""
    return json.dumps({"widgets": _laid_out([*_service_widgets(args), *_queue_widgets(args)])})
