"""The DLQ alarm rule, with watched and unwatched dead-letter queues as the engine sends them."""

import pytest

from guardrails import alarms
from tests.policies.engine_view import DELETE, changed, messages, stack_args, urn_of, violations
from tests.policies.test_messaging_rules import GOOD_TOPOLOGY, QUEUE, queue, target

POLICY = alarms.sqs_dlq_has_alarm
ALARM = alarms.METRIC_ALARM
TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:op-alarms"
DLQS = ("stock-dlq", "order-created-target-dlq")


def alarm(queue_name, **extra):
    props = {
        "name": f"{queue_name}-not-empty",
        "namespace": "AWS/SQS",
        "metricName": "ApproximateNumberOfMessagesVisible",
        "dimensions": {"QueueName": queue_name},
        "statistic": "Maximum",
        "period": 60,
        "evaluationPeriods": 1,
        "comparisonOperator": "GreaterThanThreshold",
        "threshold": 0,
        "treatMissingData": "notBreaching",
        "alarmActions": [TOPIC_ARN],
        **extra,
    }
    return (ALARM, f"{queue_name}-alarm", props)


WATCHED = [*GOOD_TOPOLOGY, *(alarm(name) for name in DLQS)]


def found_on(resources, **config):
    return violations(POLICY, stack_args(POLICY, resources, **config))


def test_every_dlq_watched_by_an_alarm_with_an_action_passes():
    assert found_on(WATCHED) == []


def test_a_topology_without_alarms_reports_each_dlq_and_no_source_queue():
    found = found_on(GOOD_TOPOLOGY)
    assert sorted(urn for _, urn in found) == sorted(urn_of(QUEUE, name) for name in DLQS)
    assert all("has no CloudWatch alarm" in m and "alarm_actions=" in m for m, _ in found)


@pytest.mark.parametrize("dlq", DLQS)
def test_the_dlq_without_its_alarm_is_reported(dlq):
    resources = [r for r in WATCHED if r[0] != ALARM or r[2]["dimensions"]["QueueName"] != dlq]
    assert found_on(resources) == [(found_on(resources)[0][0], urn_of(QUEUE, dlq))]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"alarmActions": []}, "no alarm that fires in time has an enabled alarm action"),
        ({"alarmActions": DELETE}, "no alarm that fires in time has an enabled alarm action"),
        ({"actionsEnabled": False}, "no alarm that fires in time has an enabled alarm action"),
        ({"threshold": 10}, "does not fire as soon as more than 0 message(s)"),
        ({"comparisonOperator": "LessThanThreshold"}, "does not fire as soon as"),
        ({"metricName": "NumberOfMessagesSent"}, "has no CloudWatch alarm"),
        ({"namespace": "Custom/Orders"}, "has no CloudWatch alarm"),
        ({"dimensions": {"QueueName": "stock"}}, "has no CloudWatch alarm"),
    ],
)
def test_an_alarm_that_would_not_tell_anyone_in_time_is_reported(change, expected):
    bad = (ALARM, "stock-dlq-alarm", changed(alarm("stock-dlq")[2], **change))
    resources = [*GOOD_TOPOLOGY, bad, alarm("order-created-target-dlq")]
    found = found_on(resources)
    assert len(found) == 1 and found[0][1] == urn_of(QUEUE, "stock-dlq")
    assert expected in found[0][0]


def test_greater_or_equal_to_one_fires_on_the_first_message_too():
    resources = [
        *GOOD_TOPOLOGY,
        alarm("stock-dlq", comparisonOperator="GreaterThanOrEqualToThreshold", threshold=1),
        alarm("order-created-target-dlq"),
    ]
    assert found_on(resources) == []


def test_the_threshold_is_configurable():
    resources = [*GOOD_TOPOLOGY, alarm("stock-dlq", threshold=5), alarm(DLQS[1])]
    assert len(found_on(resources)) == 1
    assert found_on(resources, maximumMessages=5) == []


def test_a_metric_math_alarm_over_the_dlq_counts():
    query = {
        "id": "visible",
        "returnData": True,
        "metric": {
            "namespace": "AWS/SQS",
            "metricName": "ApproximateNumberOfMessagesVisible",
            "dimensions": {"QueueName": "stock-dlq"},
            "period": 60,
            "stat": "Maximum",
        },
    }
    math = changed(
        alarm("stock-dlq")[2],
        metricName=DELETE,
        namespace=DELETE,
        dimensions=DELETE,
        statistic=DELETE,
        period=DELETE,
        metricQueries=[query],
    )
    resources = [*GOOD_TOPOLOGY, (ALARM, "math", math), alarm(DLQS[1])]
    assert found_on(resources) == []


def test_one_good_alarm_among_poor_ones_is_enough():
    resources = [*WATCHED, alarm("stock-dlq", threshold=100, alarmActions=[])]
    assert found_on(resources) == []


def test_a_queue_that_is_no_ones_dlq_needs_no_alarm():
    resources = [*WATCHED, queue("spare", retention=1_209_600)]
    assert messages(POLICY, stack_args(POLICY, resources)) == []


def test_a_target_dlq_is_found_through_the_rule_target_alone():
    resources = [
        queue("stock", dlq="stock-dlq"),
        queue("stock-dlq", retention=1_209_600),
        queue("late-dlq", retention=1_209_600),
        target("order-created", "stock", dlq="late-dlq"),
        alarm("stock-dlq"),
    ]
    assert [urn for _, urn in found_on(resources)] == [urn_of(QUEUE, "late-dlq")]
