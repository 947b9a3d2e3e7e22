"""Stack-level rule: every SQS queue is on a dashboard and has an alarm that notifies someone.

A queue is on a dashboard when some ``aws.cloudwatch.Dashboard`` body plots an ``AWS/SQS`` metric
with its ``QueueName`` (metric rows, with CloudWatch's ``"."`` shorthand for "as the row above").
It has an alarm when a metric alarm with an action reads an ``AWS/SQS`` metric of it (directly
or in a metric-math query). A queue without either fills up or ages unseen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pulumi_policy import StackValidationArgs

from guardrails.alarms import METRIC_ALARM, SQS_NAMESPACE
from guardrails.messaging import QUEUE
from guardrails.props import Report, get, items, json_value, of_type
from guardrails.rules import stack_rule

DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
FIX = (
    "Build the dashboard's widgets from the topology (every queue and DLQ, "
    "infra/components/dashboard.py) and give the queue an aws.cloudwatch.MetricAlarm on "
    "AWS/SQS ApproximateAgeOfOldestMessage (a source queue) or ApproximateNumberOfMessagesVisible "
    "(a DLQ) with dimensions={'QueueName': queue.name} and alarm_actions."
)


def _rows(body: object) -> list[list]:
    """Every metric row of every widget, with ``"."`` filled in from the row above."""
    rows = []
    for widget in items(get(body, "widgets")):
        previous: list = []
        for row in items(get(widget, "properties.metrics")):
            cells = [c for c in items(row) if not isinstance(c, Mapping)]
            filled = [previous[i] if c == "." and i < len(previous) else c
                      for i, c in enumerate(cells)]
            rows.append(filled)
            previous = filled
    return rows


def dashboard_queue_names(body: object) -> set[str]:
    """``QueueName`` values of the ``AWS/SQS`` metrics a dashboard body plots."""
    names = set()
    for row in _rows(json_value(body)):
        if len(row) < 2 or row[0] != SQS_NAMESPACE:
            continue
        pairs = row[2:]
        names |= {str(pairs[i + 1]) for i in range(0, len(pairs) - 1, 2)
                  if pairs[i] == "QueueName"}
    return names


def alarm_queue_names(alarm_props: Mapping) -> set[str]:
    """``QueueName`` dimensions of the ``AWS/SQS`` metrics an alarm reads."""
    queries = items(get(alarm_props, "metricQueries"))
    metrics = [alarm_props, *(get(q, "metric", {}) for q in queries)]
    return {str(get(m, "dimensions.QueueName")) for m in metrics
            if get(m, "namespace") == SQS_NAMESPACE and get(m, "dimensions.QueueName")}


def _notifies(alarm_props: Mapping) -> bool:
    if get(alarm_props, "actionsEnabled") is False:
        return False
    actions = get(alarm_props, "alarmActions")
    return isinstance(actions, Sequence) and not isinstance(actions, str) and len(actions) > 0


@stack_rule(
    "sqs-queue-has-widget-and-alarm",
    "Every SQS queue must be plotted on a dashboard and watched by an alarm.",
)
def sqs_queue_has_widget_and_alarm(args: StackValidationArgs, report: Report) -> None:
    """Each queue has a dashboard widget and an alarm with an action."""
    plotted: set[str] = set()
    for board in of_type(args, DASHBOARD):
        plotted |= dashboard_queue_names(get(board.props, "dashboardBody"))
    alarmed: set[str] = set()
    for alarm in of_type(args, METRIC_ALARM):
        if _notifies(alarm.props):
            alarmed |= alarm_queue_names(alarm.props)
    for queue in of_type(args, QUEUE):
        name = str(get(queue.props, "name", ""))
        missing = [what for what, seen in (("a dashboard widget", plotted),
                                           ("an alarm with an action", alarmed))
                   if name not in seen]
        if missing:
            report(
                f"Queue '{queue.name}' (SQS name '{name}') lacks {' and '.join(missing)}, so "
                f"a backlog or a dead letter there goes unseen. {FIX}",
                queue.urn,
            )


POLICIES = [sqs_queue_has_widget_and_alarm]
