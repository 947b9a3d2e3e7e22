"""Queue alarms: one on every DLQ, one on each source queue's oldest message, all to one topic."""

from __future__ import annotations

import copy
import fnmatch
import json

import pytest

from infra import outputs
from infra.components import alerting
from infra.components.node_autoscaling import interruption_queue_name
from infra.config import StackConfigError
from infra.simulation import StackRun, run_stack
from order_platform.processes import DEPLOYED, Kind
from order_platform.topology import QUEUES, ROUTES
from tests.infra.helpers import as_list, by_output, config_value, document, one, prefix

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
QUEUE = "aws:sqs/queue:Queue"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"


def dead_letter_arns(run: StackRun) -> set[str]:
    """Every queue ARN the program uses as a DLQ: redrive targets and rule-target DLQs."""
    arns = {json.loads(q.inputs["redrivePolicy"])["deadLetterTargetArn"]
            for q in run.of_type(QUEUE) if "redrivePolicy" in q.inputs}
    return arns | {t.inputs["deadLetterConfig"]["arn"] for t in run.of_type(TARGET)}


def alarms_on(run: StackRun, queue_name: str, metric: str) -> list:
    """Alarms on ``metric`` whose QueueName dimension is ``queue_name``."""
    return [a for a in run.of_type(ALARM)
            if a.inputs.get("metricName") == metric
            and a.inputs.get("dimensions") == {"QueueName": queue_name}]


def dlq_alarm_problems(run: StackRun) -> list[str]:
    """What is wrong with the DLQ alarms of a run; empty when every DLQ has exactly its alarm."""
    topic_arn = one(run, TOPIC).outputs["arn"]
    problems = []
    for dlq in (q for q in run.of_type(QUEUE) if q.outputs["arn"] in dead_letter_arns(run)):
        name = dlq.outputs["name"]
        found = alarms_on(run, name, alerting.DLQ_METRIC)
        if len(found) != 1:
            problems.append(f"{name}: {len(found)} alarms")
            continue
        alarm = found[0].inputs
        expected = {"namespace": "AWS/SQS", "threshold": 0,
                    "comparisonOperator": "GreaterThanThreshold",
                    "treatMissingData": "notBreaching", "alarmActions": [topic_arn]}
        wrong = {k: alarm.get(k) for k, v in expected.items() if alarm.get(k) != v}
        if wrong:
            problems.append(f"{name}: {wrong}")
    return problems


def test_every_dlq_of_the_topology_is_a_dlq_of_the_program(run):
    p = prefix(run)
    names = {q.outputs["arn"]: q.outputs["name"] for q in run.of_type(QUEUE)}
    expected = {q.dlq_name(p) for q in QUEUES} | {r.target_dlq_name(p) for r in ROUTES}
    # Karpenter's interruption queue is not an event route, but its DLQ is watched the same way.
    expected.add(f"{interruption_queue_name(p)}-dlq")
    assert {names[arn] for arn in dead_letter_arns(run)} == expected


def test_every_dlq_has_exactly_one_alarm_on_visible_messages(run):
    assert dlq_alarm_problems(run) == []


def _without_alarm(run, dlq_name):
    broken = copy.deepcopy(run)
    doomed = {a.urn for a in alarms_on(broken, dlq_name, alerting.DLQ_METRIC)}
    broken.resources = [r for r in broken.resources if r.urn not in doomed]
    return broken


def _with_alarm_changed(run, dlq_name, **inputs):
    broken = copy.deepcopy(run)
    alarm = alarms_on(broken, dlq_name, alerting.DLQ_METRIC)[0]
    alarm.inputs.update(inputs)
    return broken


@pytest.mark.parametrize("breakage", [
    _without_alarm,
    lambda run, dlq: _with_alarm_changed(run, dlq, threshold=10),
    lambda run, dlq: _with_alarm_changed(run, dlq, alarmActions=[]),
    lambda run, dlq: _with_alarm_changed(run, dlq, treatMissingData="breaching"),
    lambda run, dlq: _with_alarm_changed(run, dlq, dimensions={"QueueName": "somewhere-else"}),
], ids=["missing", "threshold", "no-action", "missing-data", "wrong-queue"])
def test_the_dlq_alarm_check_catches_a_broken_alarm(stack_runs, breakage):
    run = stack_runs["prod"]
    for dlq_name in (QUEUES[0].dlq_name(prefix(run)), ROUTES[-1].target_dlq_name(prefix(run))):
        assert dlq_alarm_problems(breakage(run, dlq_name)), dlq_name


@pytest.mark.parametrize("queue_spec", QUEUES, ids=lambda q: q.key)
def test_each_source_queue_alarms_on_its_oldest_message(run, stack_file, queue_spec):
    queue = by_output(run, QUEUE, "name", queue_spec.name(prefix(run)))
    found = alarms_on(run, queue.outputs["name"], alerting.AGE_METRIC)
    assert len(found) == 1
    alarm = found[0].inputs
    assert alarm["name"] == alerting.age_alarm_name(queue.outputs["name"])
    assert alarm["threshold"] == stack_file["queueAgeAlarmSeconds"]
    assert alarm["comparisonOperator"] == "GreaterThanThreshold"
    assert alarm["statistic"] == "Maximum"
    assert alarm["alarmActions"] == [one(run, TOPIC).outputs["arn"]]


def test_no_other_alarm_and_every_alarm_also_reports_recovery(run):
    topic_arn = one(run, TOPIC).outputs["arn"]
    alarms = run.of_type(ALARM)
    queue_alarms = [a for a in alarms if a.inputs.get("namespace") == alerting.SQS_NAMESPACE]
    # Every DLQ, every source queue and Karpenter's interruption queue; with the collector, two
    # per API and a heartbeat per process (tests/infra/test_monitoring.py).
    apis = sum(p.kind is Kind.API for p in DEPLOYED)
    with_collector = 2 * apis + len(DEPLOYED) if config_value(run, "collectorEnabled") else 0
    assert len(queue_alarms) == len(dead_letter_arns(run)) + len(QUEUES) + 1
    assert len(alarms) == len(queue_alarms) + with_collector
    for alarm in alarms:
        assert alarm.inputs["okActions"] == [topic_arn], alarm.name
    for alarm in queue_alarms:
        assert alarm.inputs["period"] == 60 and alarm.inputs["evaluationPeriods"] == 1


def test_the_age_threshold_differs_where_environments_differ(stack_runs):
    def threshold(stack):
        names = {q.name(prefix(stack_runs[stack])) for q in QUEUES}
        return {a.inputs["threshold"] for a in stack_runs[stack].of_type(ALARM)
                if a.inputs.get("metricName") == alerting.AGE_METRIC
                and a.inputs["dimensions"]["QueueName"] in names}
    assert threshold("prod") == {300}
    assert threshold("dev") == {900}
    assert threshold("staging") == {600}


def test_the_topic_is_encrypted_with_a_key_cloudwatch_may_use(run):
    topic = one(run, TOPIC)
    keys = {k.outputs["arn"]: k for k in run.of_type("aws:kms/key:Key")}
    key = keys[topic.inputs["kmsMasterKeyId"]]  # a key of this stack, not alias/aws/sns
    assert key.inputs["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in document(key)["Statement"]}
    cloudwatch = statements["CloudWatchAlarmsEncrypt"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(as_list(cloudwatch["Action"])) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    account = topic.outputs["arn"].split(":")[4]
    assert statements["AccountAdministersKey"]["Principal"] == {
        "AWS": f"arn:aws:iam::{account}:root"}


def test_only_this_accounts_alarms_of_this_stack_may_publish(run):
    topic = one(run, TOPIC)
    policies = [p for p in run.of_type(TOPIC_POLICY) if p.inputs["arn"] == topic.outputs["arn"]]
    assert len(policies) == 1
    (statement,) = document(policies[0])["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert as_list(statement["Action"]) == ["sns:Publish"]
    assert statement["Resource"] == topic.outputs["arn"]
    account = topic.outputs["arn"].split(":")[4]
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
    pattern = statement["Condition"]["ArnLike"]["aws:SourceArn"]
    for alarm in run.of_type(ALARM):
        assert fnmatch.fnmatchcase(alarm.outputs["arn"], pattern), alarm.name
        assert policies[0].urn in alarm.dependencies, "alarms wait for the topic policy"
    other_stack = alarm.outputs["arn"].replace(prefix(run), f"{prefix(run)}x")
    assert not fnmatch.fnmatchcase(other_stack, pattern)
    assert not fnmatch.fnmatchcase(alarm.outputs["arn"].replace(account, "210987654321"), pattern)


def test_the_topic_arn_is_a_stack_output(run):
    assert run.outputs[outputs.ALARM_TOPIC_ARN] == one(run, TOPIC).outputs["arn"]
    assert outputs.ALARM_TOPIC_ARN not in run.secret_outputs


def test_shipped_stacks_subscribe_no_one_and_alarm_email_subscribes_it(stack_runs):
    assert all(r.of_type(SUBSCRIPTION) == [] for r in stack_runs.values())
    run = run_stack("prod", {"alarmEmail": "oncall@example.com"})
    subscription = one(run, SUBSCRIPTION).inputs
    assert subscription == {**subscription, "protocol": "email",
                            "endpoint": "oncall@example.com",
                            "topic": one(run, TOPIC).outputs["arn"]}


@pytest.mark.parametrize("override", [
    {"alarmEmail": "not-an-address"},
    {"queueAgeAlarmSeconds": 10},
    {"queueAgeAlarmSeconds": QUEUES[0].retention_seconds},
])
def test_unusable_alarm_settings_are_refused(override):
    with pytest.raises(StackConfigError, match=next(iter(override))):
        run_stack("dev", override)


def test_prod_without_alarm_email_warns_and_with_one_does_not(caplog):
    # Under mocks the engine's log service is Python logging; `pulumi up` shows it as a warning.
    run_stack("prod")
    assert "alarmEmail is not set" in caplog.text
    caplog.clear()
    run_stack("prod", {"alarmEmail": "oncall@example.com"})
    run_stack("staging")
    assert "alarmEmail is not set" not in caplog.text
