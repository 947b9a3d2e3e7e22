"""The rule that every queue is on a dashboard and watched by an alarm, both ways."""

import json

import pytest

from guardrails import monitoring
from tests.policies.engine_view import changed, stack_args, urn_of, violations

POLICY = monitoring.sqs_queue_has_widget_and_alarm
QUEUE = "aws:sqs/queue:Queue"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:op-alarms"
NAMES = ("orders", "orders-dlq")


def widget(*rows):
    return {"type": "metric", "properties": {"metrics": [list(r) for r in rows]}}


def board(*widgets):
    return ("aws:cloudwatch/dashboard:Dashboard", "board",
            {"dashboardName": "op", "dashboardBody": json.dumps({"widgets": list(widgets)})})


def alarm(queue, **extra):
    return (ALARM, f"{queue}-alarm", {
        "namespace": "AWS/SQS", "metricName": "ApproximateAgeOfOldestMessage",
        "dimensions": {"QueueName": queue}, "alarmActions": [TOPIC], **extra})


QUEUES = [(QUEUE, name, {"name": name}) for name in NAMES]
PLOTTED = board(widget(*(["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", n,
                          {"stat": "Maximum"}] for n in NAMES)))
WATCHED = [*QUEUES, PLOTTED, *(alarm(n) for n in NAMES)]


def found_on(resources):
    return violations(POLICY, stack_args(POLICY, resources))


def test_queues_on_a_dashboard_with_alarms_pass():
    assert found_on(WATCHED) == []


def test_a_queue_missing_from_every_dashboard_is_reported():
    partial = board(widget(["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "orders"]))
    ((message, urn),) = found_on([*QUEUES, partial, *(alarm(n) for n in NAMES)])
    assert urn == urn_of(QUEUE, "orders-dlq")
    assert "lacks a dashboard widget, so" in message


def test_a_queue_without_an_alarm_is_reported():
    ((message, urn),) = found_on([*QUEUES, PLOTTED, alarm("orders")])
    assert urn == urn_of(QUEUE, "orders-dlq") and "an alarm with an action" in message


def test_nothing_at_all_reports_both_for_every_queue():
    found = found_on(QUEUES)
    assert sorted(urn for _, urn in found) == sorted(urn_of(QUEUE, n) for n in NAMES)
    assert all("lacks a dashboard widget and an alarm with an action" in m for m, _ in found)


@pytest.mark.parametrize("change", [{"alarmActions": []}, {"actionsEnabled": False},
                                    {"namespace": "Custom/Orders"},
                                    {"dimensions": {"QueueName": "other"}}])
def test_an_alarm_that_tells_no_one_or_watches_something_else_does_not_count(change):
    bad = (ALARM, "orders-dlq-alarm", changed(alarm("orders-dlq")[2], **change))
    ((_, urn),) = found_on([*QUEUES, PLOTTED, alarm("orders"), bad])
    assert urn == urn_of(QUEUE, "orders-dlq")


def test_metric_math_alarms_and_the_dot_shorthand_are_understood():
    dotted = board(widget(["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "orders"],
                          [".", ".", ".", "orders-dlq"]))
    math_alarm = (ALARM, "math", {"alarmActions": [TOPIC], "metricQueries": [
        {"id": "m", "metric": {"namespace": "AWS/SQS", "metricName": "NumberOfMessagesSent",
                               "dimensions": {"QueueName": "orders-dlq"}}},
        {"id": "e", "expression": "m * 2", "returnData": True}]})
    assert found_on([*QUEUES, dotted, alarm("orders"), math_alarm]) == []


def test_other_namespaces_and_search_expressions_do_not_count_as_widgets():
    other = board(widget(["Custom/Orders", "Depth", "QueueName", "orders"],
                         [{"expression": "SEARCH('{AWS/SQS,QueueName} orders', 'Sum', 60)"}]))
    found = found_on([*QUEUES, other, *(alarm(n) for n in NAMES)])
    assert {urn for _, urn in found} == {urn_of(QUEUE, n) for n in NAMES}
