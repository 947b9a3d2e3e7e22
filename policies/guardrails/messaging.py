"""SQS and EventBridge rules: encryption, dead-letter queues, retention, scoped queue policies."""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

from guardrails.props import (
    Report,
    for_types,
    get,
    items,
    json_value,
    label,
    number,
    of_type,
    truthy,
)
from guardrails.rules import resource_rule, stack_rule

QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
SQS_DEFAULT_RETENTION_SECONDS = 345_600  # four days, what SQS uses when none is set


@resource_rule(
    "sqs-queue-encrypted",
    "SQS queues must have server-side encryption (SSE-SQS or SSE-KMS).",
)
@for_types(QUEUE)
def sqs_queue_encrypted(args: ResourceValidationArgs, report: Report) -> None:
    """The queue has server-side encryption: a KMS key or SQS-managed SSE."""
    if get(args.props, "kmsMasterKeyId") or truthy(get(args.props, "sqsManagedSseEnabled")):
        return
    report(
        f"Queue {label(args)} does not declare server-side encryption. Set "
        "sqs_managed_sse_enabled=True, or kms_master_key_id to a KMS key that the senders "
        "(events.amazonaws.com) may use."
    )


def redrive_target(queue_props: Mapping) -> str:
    """The DLQ ARN named by a queue's ``redrivePolicy`` JSON string, or ``""``."""
    policy = json_value(get(queue_props, "redrivePolicy"))
    return str(get(policy, "deadLetterTargetArn", "")) if isinstance(policy, Mapping) else ""


def dead_letter_arns(args: StackValidationArgs) -> set[str]:
    """ARNs used as a DLQ by any queue's redrive policy or any rule target."""
    arns = {redrive_target(r.props) for r in args.resources if r.resource_type == QUEUE}
    arns |= {
        str(get(r.props, "deadLetterConfig.arn", ""))
        for r in args.resources
        if r.resource_type == EVENT_TARGET
    }
    return arns - {""}


def queues_by_arn(args: StackValidationArgs) -> dict[str, PolicyResource]:
    """Every SQS queue of the stack, keyed by its ARN."""
    return {str(get(r.props, "arn")): r for r in args.resources if r.resource_type == QUEUE}


@stack_rule(
    "sqs-queue-has-dlq",
    "Every SQS queue that is not a dead-letter queue must have a redrive policy.",
)
def sqs_queue_has_dlq(args: StackValidationArgs, report: Report) -> None:
    """Every queue that is not itself a dead-letter queue redrives to one."""
    dead_letter = dead_letter_arns(args)
    for queue in of_type(args, QUEUE):
        if str(get(queue.props, "arn", "")) in dead_letter:
            continue
        # A redriveAllowPolicy marks a queue built to be a DLQ even before a source points at it.
        if get(queue.props, "redriveAllowPolicy"):
            continue
        policy = json_value(get(queue.props, "redrivePolicy"))
        count = number(get(policy, "maxReceiveCount")) if isinstance(policy, Mapping) else None
        if not redrive_target(queue.props) or not count or count < 1:
            report(
                f"Queue '{queue.name}' has no redrive policy, so a poison message is retried "
                "until it expires. Create a DLQ and set redrive_policy to "
                'json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 5}).',
                queue.urn,
            )


@stack_rule(
    "sqs-dlq-retention",
    "A dead-letter queue must keep messages at least as long as its source queue.",
)
def sqs_dlq_retention(args: StackValidationArgs, report: Report) -> None:
    """A DLQ keeps messages at least as long as each queue that redrives to it."""
    queues = queues_by_arn(args)
    for source in of_type(args, QUEUE):
        dlq = queues.get(redrive_target(source.props))
        if dlq is None:
            continue
        kept = number(get(dlq.props, "messageRetentionSeconds"), SQS_DEFAULT_RETENTION_SECONDS)
        needed = number(get(source.props, "messageRetentionSeconds"), SQS_DEFAULT_RETENTION_SECONDS)
        if kept < needed:
            report(
                f"DLQ '{dlq.name}' keeps messages {int(kept)}s but its source '{source.name}' "
                f"keeps them {int(needed)}s, so a redriven message can expire before anyone looks. "
                f"Set message_retention_seconds on the DLQ to at least {int(needed)} "
                "(1209600, 14 days, is the maximum).",
                dlq.urn,
            )


def _statements(document: object) -> list[Mapping]:
    """The statements of an IAM-style policy document (a JSON string or an object)."""
    parsed = json_value(document)
    if not isinstance(parsed, Mapping):
        return []
    return [s for s in items(get(parsed, "Statement")) if isinstance(s, Mapping)]


def _condition_keys(statement: Mapping) -> set[str]:
    """Every condition key of a statement, lower-cased (IAM keys are case-insensitive)."""
    keys: set[str] = set()
    for block in get(statement, "Condition", {}).values():
        if isinstance(block, Mapping):
            keys.update(str(k).lower() for k in block)
    return keys


def _granted_to_outsiders(statement: Mapping) -> bool:
    """True when a statement names a service principal or everyone (``"*"``)."""
    principal = get(statement, "Principal", {})
    if not isinstance(principal, Mapping):
        return str(principal) == "*"
    return bool(get(principal, "Service")) or "*" in {str(p) for p in items(get(principal, "AWS"))}


@resource_rule(
    "sqs-queue-policy-source-arn",
    "SQS queue policies must scope grants to services with aws:SourceArn.",
)
@for_types(QUEUE_POLICY, QUEUE)
def sqs_queue_policy_source_arn(args: ResourceValidationArgs, report: Report) -> None:
    """Allow statements for services or everyone are scoped to their sender with aws:SourceArn."""
    for index, statement in enumerate(_statements(get(args.props, "policy"))):
        if str(get(statement, "Effect", "")) != "Allow" or not _granted_to_outsiders(statement):
            continue
        if "aws:sourcearn" not in _condition_keys(statement):
            sid = get(statement, "Sid", f"#{index}")
            report(
                f"Queue policy {label(args)} statement {sid} allows access without an "
                "aws:SourceArn condition, so any rule in any account could send. Add "
                "Condition: {'ArnEquals': {'aws:SourceArn': <the EventBridge rule ARN>}}."
            )


@resource_rule(
    "eventbridge-target-dlq",
    "Every EventBridge rule target must have a dead-letter queue.",
)
@for_types(EVENT_TARGET)
def eventbridge_target_dlq(args: ResourceValidationArgs, report: Report) -> None:
    """An EventBridge target sends undeliverable events to a DLQ."""
    if not get(args.props, "deadLetterConfig.arn"):
        report(
            f"Rule target {label(args)} has no dead-letter queue; events EventBridge cannot "
            "deliver after its retries are dropped. Set dead_letter_config={'arn': <SQS DLQ ARN>} "
            "(and a retry_policy)."
        )


@stack_rule(
    "eventbridge-targeted-queue-has-dlq",
    "Every SQS queue targeted by an EventBridge rule must have a DLQ.",
)
def eventbridge_targeted_queue_has_dlq(args: StackValidationArgs, report: Report) -> None:
    """Every queue that a rule targets redrives to a DLQ that exists in the stack."""
    queues = queues_by_arn(args)
    for target in of_type(args, EVENT_TARGET):
        queue = queues.get(str(get(target.props, "arn", "")))
        if queue is None:
            continue
        if redrive_target(queue.props) not in queues:
            report(
                f"Queue '{queue.name}' is the target of rule target '{target.name}' but has no "
                "DLQ in this stack. Create one and point the queue's redrive_policy "
                "deadLetterTargetArn at it.",
                queue.urn,
            )


POLICIES = [
    sqs_queue_encrypted,
    sqs_queue_has_dlq,
    sqs_dlq_retention,
    sqs_queue_policy_source_arn,
    eventbridge_target_dlq,
    eventbridge_targeted_queue_has_dlq,
]
