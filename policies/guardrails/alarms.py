"""Stack-level rule: someone is told when messages pile up in a dead-letter queue.

A DLQ is any SQS queue that another queue's redrive policy names as ``deadLetterTargetArn`` or
that an EventBridge target names in ``deadLetterConfig``. It is watched when a CloudWatch metric
alarm reads its ``AWS/SQS`` ``ApproximateNumberOfMessagesVisible`` (by the ``QueueName``
dimension, directly or inside a metric-math query), fires at a low enough count and has an
alarm action. Without that, failed messages sit there until their retention ends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pulumi_policy import PolicyResource, StackValidationArgs

from guardrails.messaging import dead_letter_arns, queues_by_arn
from guardrails.props import Report, get, items, number, of_type
from guardrails.rules import stack_rule
from guardrails.settings import RuleSettings, setting

METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SQS_NAMESPACE = "AWS/SQS"
VISIBLE_METRIC = "ApproximateNumberOfMessagesVisible"
FIX = (
    "Add aws.cloudwatch.MetricAlarm(namespace='AWS/SQS', "
    "metric_name='ApproximateNumberOfMessagesVisible', dimensions={'QueueName': dlq.name}, "
    "statistic='Maximum', period=60, evaluation_periods=1, "
    "comparison_operator='GreaterThanThreshold', threshold=0, treat_missing_data='notBreaching', "
    "alarm_actions=[<SNS topic ARN>])."
)


def _watched_queue_names(alarm_props: Mapping) -> set[str]:
    """QueueName dimensions of the alarm's visible-messages metrics (plain or metric math)."""
    queries = items(get(alarm_props, "metricQueries"))
    metrics = [alarm_props, *(get(q, "metric", {}) for q in queries)]
    return {
        str(get(m, "dimensions.QueueName"))
        for m in metrics
        if get(m, "namespace") == SQS_NAMESPACE
        and get(m, "metricName") == VISIBLE_METRIC
        and get(m, "dimensions.QueueName")
    }


def _action_count(alarm_props: Mapping) -> int:
    """Alarm actions; counted without reading them, as ARNs are unknown during a first preview."""
    if get(alarm_props, "actionsEnabled") is False:
        return 0
    actions = get(alarm_props, "alarmActions")
    return len(actions) if isinstance(actions, Sequence) and not isinstance(actions, str) else 0


def _fires_by(alarm_props: Mapping, maximum: int) -> bool:
    """The alarm fires once more than ``maximum`` messages are visible."""
    threshold = number(get(alarm_props, "threshold"))
    if threshold is None:
        return False
    operator = get(alarm_props, "comparisonOperator")
    if operator == "GreaterThanThreshold":
        return threshold <= maximum
    return operator == "GreaterThanOrEqualToThreshold" and threshold <= maximum + 1


def _problem(dlq_name: str, alarms: list[PolicyResource], maximum: int) -> str | None:
    """Why no alarm watches ``dlq_name`` properly, or None when one does."""
    if not alarms:
        return "has no CloudWatch alarm on ApproximateNumberOfMessagesVisible"
    if not any(_fires_by(a.props, maximum) for a in alarms):
        return (
            f"is watched by {', '.join(repr(a.name) for a in alarms)}, which does not fire as "
            f"soon as more than {maximum} message(s) are visible"
        )
    if not any(_fires_by(a.props, maximum) and _action_count(a.props) for a in alarms):
        return (
            f"is watched by {', '.join(repr(a.name) for a in alarms)}, but no alarm that "
            "fires in time has an enabled alarm action, so nobody is told"
        )
    return None


@dataclass(frozen=True)
class DlqHasAlarm(RuleSettings):
    """The settings of sqs-dlq-has-alarm."""

    maximum_messages: int = setting(
        0, "The alarm must fire once more than this many messages are visible in the DLQ "
        "(0: on the first one).", minimum=0)


@stack_rule(
    "sqs-dlq-has-alarm",
    "Every dead-letter queue (a redrive or EventBridge target DLQ) must have a CloudWatch "
        "alarm on ApproximateNumberOfMessagesVisible with an alarm action.",
    DlqHasAlarm,
)
def sqs_dlq_has_alarm(args: StackValidationArgs, report: Report) -> None:
    """Each DLQ has an alarm on its visible messages that fires early and notifies someone."""
    maximum = DlqHasAlarm.read(args).maximum_messages
    dead_letter = dead_letter_arns(args)
    alarms = of_type(args, METRIC_ALARM)
    for arn, dlq in queues_by_arn(args).items():
        if arn not in dead_letter:
            continue
        name = str(get(dlq.props, "name", ""))
        watching = [a for a in alarms if name in _watched_queue_names(a.props)]
        problem = _problem(name, watching, maximum)
        if problem:
            report(
                f"Dead-letter queue '{dlq.name}' (SQS name '{name}') {problem}; failed messages "
                f"pile up unnoticed until they expire. {FIX}",
                dlq.urn,
            )


POLICIES = [sqs_dlq_has_alarm]
