"""The stack's CloudWatch dashboard, the alarms on what API users feel (5xx and p99 latency),
and a heartbeat per process: the alarm that fires when its metrics stop arriving.

The queue alarms live with the queues (``Messaging``, ``NodeAutoscaling``); these notify the same
topic. The API and heartbeat alarms exist only with the collector, the only thing that sends
their metrics. The threshold alarms treat missing data as not breaching (an idle API is not
failing); so a broken pipeline (collector down, scrape blocked, log group unwritable, a series
renamed) would leave them OK for ever: the heartbeats treat it as breaching, and page.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import dashboard
from infra.components import telemetry_pipeline as pipeline
from infra.components.component import Component
from order_platform.processes import Process

EVALUATION_MINUTES = 3
"""Three bad minutes in a row: one slow or failing minute (a deploy, a failover) is no page."""
HEARTBEAT_MINUTES = 3
"""Three minutes without a sample: one scrape a minute may land in the next minute (jitter), never
three in a row, so this pages only on a pipeline that is broken, a few minutes after it broke."""


@dataclass(frozen=True)
class ApiAlarmThresholds:
    """Per-stack thresholds (``apiErrorRateAlarmPercent``, ``apiLatencyP99AlarmSeconds``)."""

    error_rate_percent: float
    p99_seconds: float
    """A bucket bound of the latency histogram (validated by ``infra/config.py``)."""
    min_requests: int
    """``apiAlarmMinRequests``: below this many requests a minute, neither alarm counts a
    minute as bad (at 20 a minute one slow request is 5 %)."""


@dataclass(frozen=True)
class MonitoringArgs:
    """The dashboard's content, and where alarms go."""

    prefix: str
    dashboard: dashboard.DashboardArgs
    thresholds: ApiAlarmThresholds
    processes: tuple[Process, ...]
    """The deployed processes: a heartbeat alarm each."""
    alarm_topic_arn: pulumi.Input[str]
    alarm_topic_policy: pulumi.Resource
    """Lets CloudWatch publish to the topic; the alarms wait for it."""


def error_rate_alarm_name(prefix: str, api: str) -> str:
    """``order-platform-prod-read-api-5xx-rate``."""
    return f"{prefix}-{api}-5xx-rate"


def latency_alarm_name(prefix: str, api: str) -> str:
    """``order-platform-prod-read-api-p99-latency``."""
    return f"{prefix}-{api}-p99-latency"


def heartbeat_alarm_name(prefix: str, role: str) -> str:
    """``order-platform-prod-worker-heartbeat``."""
    return f"{prefix}-{role}-heartbeat"


def _query(query_id: str, query: dict) -> dict:
    return {"id": query_id, "return_data": False,
            "metric": {**query, "period": dashboard.PERIOD_SECONDS, "stat": "Sum"}}


class Monitoring(Component[MonitoringArgs]):
    """A dashboard per stack and, with the collector, two alarms per API."""

    dashboard_name: pulumi.Output[str]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:monitoring:Monitoring", name, args, opts)
        board = aws.cloudwatch.Dashboard(
            f"{name}-dashboard", dashboard_name=args.prefix,
            dashboard_body=dashboard.dashboard_body(args.dashboard), opts=self._child)
        if args.dashboard.collector_enabled:
            for api in args.dashboard.apis:
                self._alarm_on_errors(api)
                self._alarm_on_latency(api)
            for process in args.processes:
                self._alarm_on_silence(process)
        self.dashboard_name = board.dashboard_name
        self.register_outputs({"dashboardName": self.dashboard_name})

    def _alarm(self, logical: str, name: str, description: str, threshold: float,
               queries: list[dict]) -> aws.cloudwatch.MetricAlarm:
        topic = [self._args.alarm_topic_arn]
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-{logical}-alarm", name=name, alarm_description=description,
            metric_queries=queries, comparison_operator="GreaterThanThreshold",
            threshold=threshold, evaluation_periods=EVALUATION_MINUTES,
            datapoints_to_alarm=EVALUATION_MINUTES,
            # No requests, no data: an idle API is not failing.
            treat_missing_data="notBreaching", alarm_actions=topic, ok_actions=topic,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self._args.alarm_topic_policy]))

    def _when_busy(self, share: str) -> str:
        """``share`` in the minutes with at least the minimum requests, 0 in the others."""
        return f"IF(requests >= {self._args.thresholds.min_requests}, {share}, 0)"

    def _alarm_on_errors(self, api: str) -> None:
        ns, least = self._args.dashboard.metrics_namespace, self._args.thresholds.min_requests
        percent = self._args.thresholds.error_rate_percent
        self._alarm(
            f"{api}-5xx-rate", error_rate_alarm_name(self._args.prefix, api),
            f"More than {percent:g}% of {api} requests answered 5xx for {EVALUATION_MINUTES} "
            f"minutes of at least {least} requests. Check `kubectl -n <namespace> logs "
            f"deploy/{api}` and the dashboard {self._args.prefix}.", percent, [
                _query("errors", dashboard.requests_query(
                    ns, api, **{pipeline.STATUS_CLASS: dashboard.SERVER_ERRORS})),
                _query("requests", dashboard.requests_query(ns, api)),
                {"id": "rate", "expression": self._when_busy("100 * FILL(errors, 0) / requests"),
                 "label": f"{api} 5xx %", "return_data": True}])

    def _alarm_on_latency(self, api: str) -> None:
        ns, bound = self._args.dashboard.metrics_namespace, self._args.thresholds.p99_seconds
        self._alarm(
            f"{api}-p99-latency", latency_alarm_name(self._args.prefix, api),
            f"The p99 latency of {api} was above {bound:g}s (more than "
            f"{dashboard.P99_SLOWER_PERCENT}% of requests slower) for {EVALUATION_MINUTES} "
            f"minutes of at least {self._args.thresholds.min_requests} requests. Check the "
            "database (Performance Insights) and the pods' CPU.",
            dashboard.P99_SLOWER_PERCENT, [
                _query("within", dashboard.requests_query(
                    ns, api, **{pipeline.LE: pipeline.le_label(bound)})),
                _query("requests", dashboard.requests_query(
                    ns, api, **{pipeline.LE: pipeline.latency_bounds()[-1]})),
                {"id": "slower",
                 "expression": self._when_busy("100 * (requests - within) / requests"),
                 "label": f"{api} % slower than {bound:g}s", "return_data": True}])

    def _alarm_on_silence(self, process: Process) -> None:
        metric = pipeline.heartbeat(process)
        topic = [self._args.alarm_topic_arn]
        aws.cloudwatch.MetricAlarm(
            f"{self._name}-{process.role}-heartbeat-alarm",
            name=heartbeat_alarm_name(self._args.prefix, process.role),
            alarm_description=(
                f"No {metric.name} from {process.role} reached CloudWatch for "
                f"{HEARTBEAT_MINUTES} minutes: its pods are down, or the metrics pipeline is "
                f"broken (collector, scrape, EMF log group, a renamed series), and every alarm "
                f"on {process.role} is blind. Check `kubectl -n {pipeline.NAMESPACE} logs "
                f"deploy/{pipeline.NAME}{pipeline.SERVICE_SUFFIX}` (docs/observability.md)."),
            namespace=self._args.dashboard.metrics_namespace, metric_name=metric.name,
            dimensions={pipeline.SERVICE: process.role}, statistic="SampleCount",
            period=dashboard.PERIOD_SECONDS, comparison_operator="LessThanThreshold",
            threshold=1, evaluation_periods=HEARTBEAT_MINUTES,
            datapoints_to_alarm=HEARTBEAT_MINUTES,
            # No data is the failure this alarm exists for.
            treat_missing_data="breaching", alarm_actions=topic, ok_actions=topic,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self._args.alarm_topic_policy]))
