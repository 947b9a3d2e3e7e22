"""Every route of the shared topology has its rule, target, queue, DLQs and scoped policy."""

from __future__ import annotations

import json

import pytest

from order_platform.topology import QUEUES, ROUTES
from tests.infra.helpers import by_output, document, one, prefix

RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
QUEUE = "aws:sqs/queue:Queue"
POLICY = "aws:sqs/queuePolicy:QueuePolicy"


def queue_named(run, name):
    return by_output(run, QUEUE, "name", name)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_rule_with_its_pattern_on_the_bus(run, route):
    rule = by_output(run, RULE, "name", route.rule_name(prefix(run)))
    bus = one(run, "aws:cloudwatch/eventBus:EventBus")
    assert rule.inputs["eventBusName"] == bus.outputs["name"]
    assert json.loads(rule.inputs["eventPattern"]) == route.event_pattern()


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_target_sends_to_the_queue_with_its_own_dlq_and_retries(run, route):
    rule = by_output(run, RULE, "name", route.rule_name(prefix(run)))
    targets = [t for t in run.of_type(TARGET) if t.inputs["rule"] == rule.outputs["name"]]
    assert len(targets) == 1
    target = targets[0].inputs
    queue = queue_named(run, route.queue.name(prefix(run)))
    target_dlq = queue_named(run, route.target_dlq_name(prefix(run)))
    assert target["arn"] == queue.outputs["arn"]
    assert target["eventBusName"] == rule.inputs["eventBusName"]
    assert target["deadLetterConfig"] == {"arn": target_dlq.outputs["arn"]}
    assert target["retryPolicy"] == {
        "maximumRetryAttempts": route.target_max_retry_attempts,
        "maximumEventAgeInSeconds": route.target_max_event_age_seconds}


@pytest.mark.parametrize("queue_spec", QUEUES, ids=lambda q: q.key)
def test_queue_has_a_dlq_with_redrive_and_longer_retention(run, queue_spec):
    queue = queue_named(run, queue_spec.name(prefix(run)))
    dlq = queue_named(run, queue_spec.dlq_name(prefix(run)))
    redrive = json.loads(queue.inputs["redrivePolicy"])
    assert redrive == {"deadLetterTargetArn": dlq.outputs["arn"],
                       "maxReceiveCount": queue_spec.max_receive_count}
    assert dlq.inputs["messageRetentionSeconds"] > queue.inputs["messageRetentionSeconds"]
    assert queue.inputs["visibilityTimeoutSeconds"] == queue_spec.visibility_timeout_seconds
    assert queue.inputs["receiveWaitTimeSeconds"] == queue_spec.receive_wait_seconds


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_only_the_rule_may_send_to_its_queue_and_target_dlq(run, route):
    rule_arn = by_output(run, RULE, "name", route.rule_name(prefix(run))).outputs["arn"]
    for queue_name in (route.queue.name(prefix(run)), route.target_dlq_name(prefix(run))):
        queue = queue_named(run, queue_name)
        policies = [p for p in run.of_type(POLICY) if p.inputs["queueUrl"] == queue.outputs["url"]]
        assert len(policies) == 1, queue_name
        allows = [s for s in document(policies[0])["Statement"] if s["Effect"] == "Allow"]
        assert len(allows) == 1
        allow = allows[0]
        assert allow["Principal"] == {"Service": "events.amazonaws.com"}
        assert allow["Action"] == "sqs:SendMessage"
        assert allow["Resource"] == queue.outputs["arn"]
        assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}


def test_every_queue_is_encrypted(run):
    for queue in run.of_type(QUEUE):
        assert queue.inputs.get("sqsManagedSseEnabled") is True or queue.inputs.get(
            "kmsMasterKeyId"), queue.name


def test_no_extra_queue_rule_or_target(run):
    p = prefix(run)
    messaging = one(run, "order-platform:messaging:Messaging").urn

    def ours(type_token):
        return [r for r in run.of_type(type_token) if r.parent == messaging]
    expected = {name for q in QUEUES for name in (q.name(p), q.dlq_name(p))}
    expected |= {r.target_dlq_name(p) for r in ROUTES}
    assert {q.outputs["name"] for q in ours(QUEUE)} == expected
    assert {r.outputs["name"] for r in ours(RULE)} == {r.rule_name(p) for r in ROUTES}
    assert len(ours(TARGET)) == len(ROUTES)
    # Everything else of the kind is Karpenter's interruption path, on the default bus.
    others = [r for t in (QUEUE, RULE, TARGET) for r in run.of_type(t) if r.parent != messaging]
    assert all("karpenter" in r.name and "eventBusName" not in r.inputs for r in others)
