"""SQS and EventBridge rules, each with violating and compliant resources."""

import json

import pytest

from guardrails import messaging
from tests.policies.engine_view import (
    DELETE,
    changed,
    messages,
    resource_args,
    stack_args,
    urn_of,
    violations,
)

QUEUE, QUEUE_POLICY, TARGET = messaging.QUEUE, messaging.QUEUE_POLICY, messaging.EVENT_TARGET
ARN = "arn:aws:sqs:eu-west-1:123456789012:{}"
RULE_ARN = "arn:aws:events:eu-west-1:123456789012:rule/op-orders/op-order-created"


def queue(name, retention=345_600, dlq=None, **extra):
    props = {
        "name": name,
        "arn": ARN.format(name),
        "messageRetentionSeconds": retention,
        "sqsManagedSseEnabled": True,
        **extra,
    }
    if dlq:
        props["redrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": ARN.format(dlq), "maxReceiveCount": 5}
        )
    return (QUEUE, name, props)


def target(name, queue_name, dlq=None):
    props = {
        "rule": "op-order-created",
        "arn": ARN.format(queue_name),
        "retryPolicy": {"maximumRetryAttempts": 185, "maximumEventAgeInSeconds": 86400},
    }
    if dlq:
        props["deadLetterConfig"] = {"arn": ARN.format(dlq)}
    return (TARGET, name, props)


GOOD_TOPOLOGY = [
    queue("stock", dlq="stock-dlq"),
    queue("stock-dlq", retention=1_209_600),
    queue("order-created-target-dlq", retention=1_209_600),
    target("order-created", "stock", dlq="order-created-target-dlq"),
]


@pytest.mark.parametrize(
    "props",
    [
        {"sqsManagedSseEnabled": True},
        {"kmsMasterKeyId": "alias/orders-sqs"},
    ],
)
def test_queues_with_sse_pass(props):
    args = resource_args(messaging.sqs_queue_encrypted, QUEUE, props, name="q")
    assert messages(messaging.sqs_queue_encrypted, args) == []


@pytest.mark.parametrize("props", [{}, {"sqsManagedSseEnabled": False}, {"kmsMasterKeyId": ""}])
def test_queues_without_sse_fail(props):
    args = resource_args(messaging.sqs_queue_encrypted, QUEUE, props, name="q")
    found = messages(messaging.sqs_queue_encrypted, args)
    assert len(found) == 1 and "sqs_managed_sse_enabled=True" in found[0]


@pytest.mark.parametrize(
    "policy",
    [
        messaging.sqs_queue_has_dlq,
        messaging.sqs_dlq_retention,
        messaging.eventbridge_targeted_queue_has_dlq,
    ],
)
def test_a_well_built_topology_passes_the_stack_rules(policy):
    assert messages(policy, stack_args(policy, GOOD_TOPOLOGY)) == []


def test_a_queue_without_redrive_policy_is_reported():
    resources = [queue("stock"), *GOOD_TOPOLOGY[2:]]
    found = violations(
        messaging.sqs_queue_has_dlq, stack_args(messaging.sqs_queue_has_dlq, resources)
    )
    assert found == [(found[0][0], urn_of(QUEUE, "stock"))]
    assert "no redrive policy" in found[0][0]


def test_a_redrive_policy_without_receive_count_is_reported():
    bad = changed(
        GOOD_TOPOLOGY[0][2],
        redrivePolicy=json.dumps({"deadLetterTargetArn": ARN.format("stock-dlq")}),
    )
    resources = [(QUEUE, "stock", bad), *GOOD_TOPOLOGY[1:]]
    policy = messaging.sqs_queue_has_dlq
    assert len(messages(policy, stack_args(policy, resources))) == 1


def test_an_unreferenced_queue_with_redrive_allow_policy_counts_as_a_dlq():
    spare = queue("spare-dlq", redriveAllowPolicy=json.dumps({"redrivePermission": "allowAll"}))
    args = stack_args(messaging.sqs_queue_has_dlq, [*GOOD_TOPOLOGY, spare])
    assert messages(messaging.sqs_queue_has_dlq, args) == []


def test_a_dlq_that_keeps_messages_shorter_than_its_source_is_reported():
    resources = [
        queue("stock", retention=604_800, dlq="stock-dlq"),
        queue("stock-dlq", retention=345_600),
        *GOOD_TOPOLOGY[2:],
    ]
    found = violations(
        messaging.sqs_dlq_retention, stack_args(messaging.sqs_dlq_retention, resources)
    )
    assert len(found) == 1 and found[0][1] == urn_of(QUEUE, "stock-dlq")
    assert "345600s" in found[0][0] and "604800s" in found[0][0]


def test_dlq_retention_defaults_to_the_sqs_default_of_four_days():
    resources = [
        queue("stock", retention=604_800, dlq="stock-dlq"),
        (QUEUE, "stock-dlq", changed(GOOD_TOPOLOGY[1][2], messageRetentionSeconds=DELETE)),
    ]
    policy = messaging.sqs_dlq_retention
    assert len(messages(policy, stack_args(policy, resources))) == 1


def test_a_targeted_queue_without_dlq_is_reported_on_the_queue():
    resources = [queue("stock"), *GOOD_TOPOLOGY[2:]]
    policy = messaging.eventbridge_targeted_queue_has_dlq
    found = violations(policy, stack_args(policy, resources))
    assert len(found) == 1 and found[0][1] == urn_of(QUEUE, "stock")
    assert "target of rule target 'order-created'" in found[0][0]


def test_a_targeted_queue_whose_dlq_is_not_in_the_stack_is_reported():
    resources = [queue("stock", dlq="somewhere-else"), *GOOD_TOPOLOGY[2:]]
    policy = messaging.eventbridge_targeted_queue_has_dlq
    assert len(messages(policy, stack_args(policy, resources))) == 1


def test_rule_targets_need_a_dlq():
    policy = messaging.eventbridge_target_dlq
    good = resource_args(policy, TARGET, GOOD_TOPOLOGY[3][2], name="t")
    assert messages(policy, good) == []
    bad = resource_args(policy, TARGET, target("t", "stock")[2], name="t")
    found = messages(policy, bad)
    assert len(found) == 1 and "dead_letter_config" in found[0]


def queue_policy(condition):
    statement = {
        "Sid": "AllowRule",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": ARN.format("stock"),
    }
    if condition:
        statement["Condition"] = condition
    return {
        "queueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/stock",
        "policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    }


@pytest.mark.parametrize(
    "condition",
    [{"ArnEquals": {"aws:SourceArn": RULE_ARN}}, {"ArnLike": {"aws:sourceArn": RULE_ARN}}],
)
def test_queue_policies_scoped_by_source_arn_pass(condition):
    policy = messaging.sqs_queue_policy_source_arn
    assert messages(policy, resource_args(policy, QUEUE_POLICY, queue_policy(condition))) == []


@pytest.mark.parametrize(
    "condition", [None, {"StringEquals": {"aws:SourceAccount": "123456789012"}}]
)
def test_queue_policies_without_source_arn_fail(condition):
    policy = messaging.sqs_queue_policy_source_arn
    found = messages(policy, resource_args(policy, QUEUE_POLICY, queue_policy(condition)))
    assert len(found) == 1 and "statement AllowRule" in found[0] and "aws:SourceArn" in found[0]


def test_inline_queue_policy_on_the_queue_is_checked_too():
    policy = messaging.sqs_queue_policy_source_arn
    props = {"sqsManagedSseEnabled": True, "policy": queue_policy(None)["policy"]}
    assert len(messages(policy, resource_args(policy, QUEUE, props))) == 1


def test_grants_to_the_account_itself_need_no_source_arn():
    policy = messaging.sqs_queue_policy_source_arn
    document = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sqs:*",
                "Resource": ARN.format("stock"),
            }
        ]
    }
    args = resource_args(policy, QUEUE_POLICY, {"policy": json.dumps(document)})
    assert messages(policy, args) == []
