"""The stack's CloudWatch dashboard and the alarms on what API users feel: 5xx and p99 latency.

The queue alarms live with the queues (``Messaging``, ``NodeAutoscaling``); these notify the same
topic. The API alarms exist only with the collector, the only thing that sends their metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import dashboard
from infra.components import telemetry_pipeline as pipeline

EVALUATION_MINUTES = 3
"""Three bad minutes in a row: one slow or failing minute (a deploy, a failover) is no page."""


@dataclass(frozen=True)
class ApiAlarmThresholds:
    """Per-stack thresholds (``apiErrorRateAlarmPercent``, ``apiLatencyP99AlarmSeconds``)."""

    error_rate_percent: float
    p99_seconds: float
    """A bucket bound of the latency histogram (validated by ``infra/config.py``)."""


@dataclass(frozen=True)
class MonitoringArgs:
    """The dashboard's content, and where alarms go."""

    prefix: str
    dashboard: dashboard.DashboardArgs
    thresholds: ApiAlarmThresholds
    alarm_topic_arn: pulumi.Input[str]
    alarm_topic_policy: pulumi.Resource
    """Lets CloudWatch publish to the topic; the alarms wait for it."""


def error_rate_alarm_name(prefix: str, api: str) -> str:
    """``order-platform-prod-read-api-5xx-rate``."""
    return f"{prefix}-{api}-5xx-rate"


def latency_alarm_name(prefix: str, api: str) -> str:
    """``order-platform-prod-read-api-p99-latency``."""
    return f"{prefix}-{api}-p99-latency"


def _query(query_id: str, query: dict) -> dict:
    return {"id": query_id, "return_data": False,
            "metric": {**query, "period": dashboard.PERIOD_SECONDS, "stat": "Sum"}}


class Monitoring(pulumi.ComponentResource):
    """A dashboard per stack and, with the collector, two alarms per API."""

    dashboard_name: pulumi.Output[str]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:monitoring:Monitoring", name, None, opts)
        self._name = name
        self._args = args
        board = aws.cloudwatch.Dashboard(
            f"{name}-dashboard", dashboard_name=args.prefix,
            dashboard_body=dashboard.dashboard_body(args.dashboard),
            opts=pulumi.ResourceOptions(parent=self))
        if args.dashboard.collector_enabled:
            for api in args.dashboard.apis:
                self._alarm_on_errors(api)
                self._alarm_on_latency(api)
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

    def _alarm_on_errors(self, api: str) -> None:
        ns = self._args.dashboard.metrics_namespace
        percent = self._args.thresholds.error_rate_percent
        self._alarm(
            f"{api}-5xx-rate", error_rate_alarm_name(self._args.prefix, api),
            f"More than {percent:g}% of {api} requests answered 5xx for {EVALUATION_MINUTES} "
            f"minutes. Check `kubectl -n <namespace> logs deploy/{api}` and the dashboard "
            f"{self._args.prefix}.", percent, [
                _query("errors", dashboard.requests_query(
                    ns, api, **{pipeline.STATUS_CLASS: dashboard.SERVER_ERRORS})),
                _query("requests", dashboard.requests_query(ns, api)),
                {"id": "rate", "expression": "100 * FILL(errors, 0) / requests",
                 "label": f"{api} 5xx %", "return_data": True}])

    def _alarm_on_latency(self, api: str) -> None:
        ns, bound = self._args.dashboard.metrics_namespace, self._args.thresholds.p99_seconds
        self._alarm(
            f"{api}-p99-latency", latency_alarm_name(self._args.prefix, api),
            f"The p99 latency of {api} was above {bound:g}s (more than "
            f"{dashboard.P99_SLOWER_PERCENT}% of requests slower) for {EVALUATION_MINUTES} "
            f"minutes. Check the database (Performance Insights) and the pods' CPU.",
            dashboard.P99_SLOWER_PERCENT, [
                _query("within", dashboard.requests_query(
                    ns, api, **{pipeline.LE: pipeline.le_label(bound)})),
                _query("requests", dashboard.requests_query(
                    ns, api, **{pipeline.LE: pipeline.latency_bounds()[-1]})),
                {"id": "slower", "expression": "100 * (requests - within) / requests",
                 "label": f"{api} % slower than {bound:g}s", "return_data": True}])
