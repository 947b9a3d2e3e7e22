"""EventBridge bus, one rule per topology route, SQS queues with DLQs, scoped queue policies."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from order_platform import topology

EVENTS_PRINCIPAL = "events.amazonaws.com"
TARGET_DLQ_RETENTION_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class MessagingArgs:
    """The routes to build, and the resource-name prefix (``order-platform-<stack>``)."""

    prefix: str
    routes: tuple[topology.Route, ...]


class Messaging(pulumi.ComponentResource):
    """The custom bus and, per route, a rule, its SQS target and every DLQ."""

    bus_name: pulumi.Output[str]
    bus_arn: pulumi.Output[str]
    queue_urls: dict[str, pulumi.Output[str]]
    """Keyed by ``Queue.key``."""
    queue_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: MessagingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:messaging:Messaging", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)

        self.bus = aws.cloudwatch.EventBus(f"{name}-bus", name=topology.bus_name(args.prefix),
                                           opts=self._child)
        self.bus_name = self.bus.name
        self.bus_arn = self.bus.arn
        self.queue_urls = {}
        self.queue_arns = {}
        for route in args.routes:
            queue = self._create_queue(route.queue)
            self._create_route(route, queue)

        self.register_outputs({
            "busName": self.bus_name,
            "queueUrls": self.queue_urls,
        })

    def _sqs(self, logical: str, physical: str, retention: int, **extra) -> aws.sqs.Queue:
        return aws.sqs.Queue(f"{self._name}-{logical}", name=physical,
                             message_retention_seconds=retention,
                             sqs_managed_sse_enabled=True, opts=self._child, **extra)

    def _create_queue(self, spec: topology.Queue) -> aws.sqs.Queue:
        prefix = self._args.prefix
        dlq = self._sqs(f"{spec.key}-dlq", spec.dlq_name(prefix), spec.dlq_retention_seconds)
        queue = self._sqs(
            spec.key, spec.name(prefix), spec.retention_seconds,
            visibility_timeout_seconds=spec.visibility_timeout_seconds,
            receive_wait_time_seconds=spec.receive_wait_seconds,
            redrive_policy=dlq.arn.apply(lambda arn: json.dumps(
                {"deadLetterTargetArn": arn, "maxReceiveCount": spec.max_receive_count})))
        aws.sqs.RedriveAllowPolicy(
            f"{self._name}-{spec.key}-dlq", queue_url=dlq.url,
            redrive_allow_policy=queue.arn.apply(lambda arn: json.dumps(
                {"redrivePermission": "byQueue", "sourceQueueArns": [arn]})),
            opts=self._child)
        self.queue_urls[spec.key] = queue.url
        self.queue_arns[spec.key] = queue.arn
        return queue

    def _create_route(self, route: topology.Route, queue: aws.sqs.Queue) -> None:
        prefix = self._args.prefix
        rule = aws.cloudwatch.EventRule(
            f"{self._name}-{route.name}", name=route.rule_name(prefix),
            event_bus_name=self.bus.name, event_pattern=json.dumps(route.event_pattern()),
            description=route.description or route.name, opts=self._child)
        target_dlq = self._sqs(f"{route.name}-target-dlq", route.target_dlq_name(prefix),
                               TARGET_DLQ_RETENTION_SECONDS)
        # Queue policies first: a target whose queue refuses the rule loses events silently.
        policies = [self._allow_rule_to_send(f"{route.name}-queue", queue, rule),
                    self._allow_rule_to_send(f"{route.name}-target-dlq", target_dlq, rule)]
        aws.cloudwatch.EventTarget(
            f"{self._name}-{route.name}", rule=rule.name, event_bus_name=self.bus.name,
            target_id=route.queue.key, arn=queue.arn,
            dead_letter_config={"arn": target_dlq.arn},
            retry_policy={"maximum_retry_attempts": route.target_max_retry_attempts,
                          "maximum_event_age_in_seconds": route.target_max_event_age_seconds},
            opts=pulumi.ResourceOptions(parent=self, depends_on=policies))

    def _allow_rule_to_send(self, logical: str, queue: aws.sqs.Queue,
                            rule: aws.cloudwatch.EventRule) -> aws.sqs.QueuePolicy:
        def document(args: list[str]) -> str:
            queue_arn, rule_arn = args
            return json.dumps({
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "OnlyThisRuleSends", "Effect": "Allow",
                     "Principal": {"Service": EVENTS_PRINCIPAL}, "Action": "sqs:SendMessage",
                     "Resource": queue_arn,
                     "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}},
                    {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "sqs:*",
                     "Resource": queue_arn,
                     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                ],
            })
        return aws.sqs.QueuePolicy(
            f"{self._name}-{logical}", queue_url=queue.url,
            policy=pulumi.Output.all(queue.arn, rule.arn).apply(document), opts=self._child)
