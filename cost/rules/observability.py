"""Logs, alarms, the dashboard and the collector's metrics and traces."""

from __future__ import annotations

from collections.abc import Iterator

from cost import assumptions as assume
from cost.context import HPA, Context
from cost.lines import Line
from cost.rules import HOURS, UnpricedResourceError, rule
from infra.components import telemetry_pipeline as pipeline
from infra.simulation import SimulatedResource
from order_platform import processes


def _log_volume(r: SimulatedResource, c: Context) -> tuple[str, float]:
    name = r.inputs.get("name", "")
    if name.startswith("/vpc/"):
        return "VPC flow logs", c.nodes * assume.FLOW_LOG_GB_PER_NODE
    if name.startswith("/aws/eks/"):
        return "EKS control-plane logs", assume.CONTROL_PLANE_LOG_GB
    if name.startswith("/aws/rds/"):
        return "Aurora postgresql log", assume.POSTGRESQL_LOG_GB
    if name == f"/{c.config.prefix}/metrics":
        return "collector EMF metric events", _scraped_pods(c) * assume.EMF_GB_PER_POD
    raise UnpricedResourceError(f"no log volume assumed for log group {name!r}: add one to "
                                "cost/rules/observability.py and cost/assumptions.py")


@rule("aws:cloudwatch/logGroup:LogGroup")
def _logs(r: SimulatedResource, c: Context) -> Iterator[Line]:
    what, ingested = _log_volume(r, c)
    yield c.line(r, f"{what} ingested", ingested, "GB", "logs:ingest-gb")
    months_kept = int(r.inputs.get("retentionInDays") or 3653) / 30
    stored = ingested * months_kept * assume.LOG_COMPRESSION
    yield c.line(r, f"{what} stored ({months_kept:.1f} months kept, compressed)", stored,
                 "GB-month", "logs:store-gb-month")


@rule("aws:cloudwatch/metricAlarm:MetricAlarm")
def _alarm(r: SimulatedResource, c: Context) -> Iterator[Line]:
    # CloudWatch bills an alarm per metric it reads: a metric-math alarm is several.
    metrics = sum("metric" in q for q in r.inputs.get("metricQueries") or []) or 1
    yield c.line(r, f"CloudWatch alarm ({metrics} metric{'s' * (metrics > 1)})", metrics,
                 "alarm-month", "cloudwatch:alarm-month")


@rule("aws:cloudwatch/dashboard:Dashboard")
def _dashboard(r: SimulatedResource, c: Context) -> Iterator[Line]:
    yield c.line(r, "CloudWatch dashboard", HOURS, "hour", "cloudwatch:dashboard-hour")


def _scraped_pods(c: Context) -> int:
    """Pods the collector scrapes: every Deployment's, at the stack's traffic."""
    return sum(c.pods.get(h.inputs["spec"]["scaleTargetRef"]["name"], 0)
               for h in c.run.of_type(HPA))


@rule("kubernetes:opentelemetry.io/v1beta1:OpenTelemetryCollector")
def _collector(r: SimulatedResource, c: Context) -> Iterator[Line]:
    # Its pod runs on the nodes (priced there), its log events on its log group; what it
    # creates besides are CloudWatch metrics and X-Ray traces.
    apis = sum(p.kind is processes.Kind.API for p in processes.DEPLOYED)
    metrics = (apis * (1 + assume.STATUS_CLASSES_SEEN + len(pipeline.latency_bounds()))
               + len(pipeline.OUTBOX_GAUGES) + assume.FINAL_STATUSES
               + len(processes.DEPLOYED))  # each process's pool bound: the daemons' heartbeat
    yield c.line(r, f"{metrics} CloudWatch metrics (EMF)", metrics, "metric-month",
                 "cloudwatch:metric-month")
    percent = r.inputs["spec"]["config"]["processors"]["probabilistic_sampler"][
        "sampling_percentage"]
    traces = c.traffic.orders * assume.TRACES_PER_ORDER * percent / 100
    yield c.line(r, f"X-Ray traces recorded ({percent}% sampled)", traces / 1e6, "million",
                 "xray:trace-million")
