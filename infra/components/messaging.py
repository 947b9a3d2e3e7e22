"""EventBridge bus, one rule per topology route, SQS queues with DLQs, scoped queue policies,
and the alarms that say when messages pile up in a DLQ or wait too long in a queue."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import alerting, kms
from infra.components.component import Component
from order_platform import topology

EVENTS_PRINCIPAL = "events.amazonaws.com"
TARGET_DLQ_RETENTION_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class QueueAlarmArgs:
    """Where queue alarms go and when the age alarm fires."""

    account_id: str
    partition: str
    """``aws`` (``aws-cn``, ``aws-us-gov``): the key policy names the account root by ARN."""
    oldest_message_age_seconds: int
    """The age alarm on each source queue fires above this."""
    email: str | None = None
    """Subscribed to the alarm topic when set (the address must confirm the subscription)."""


@dataclass(frozen=True)
class MessagingArgs:
    """The routes to build, the resource-name prefix (``order-platform-<stack>``), the alarms."""

    prefix: str
    routes: tuple[topology.Route, ...]
    alarms: QueueAlarmArgs


class Messaging(Component[MessagingArgs]):
    """The custom bus; per route a rule, its SQS target and every DLQ; alarms on all of them."""

    bus_name: pulumi.Output[str]
    bus_arn: pulumi.Output[str]
    queue_urls: dict[str, pulumi.Output[str]]
    """Keyed by ``Queue.key``."""
    queue_arns: dict[str, pulumi.Output[str]]
    alarm_topic_arn: pulumi.Output[str]
    """The SNS topic every queue alarm notifies (alarm and OK)."""
    source_queue_names: tuple[str, ...]
    """SQS names of the queues the consumers read (the dashboard plots their oldest message)."""
    dead_letter_queue_names: tuple[str, ...]
    """SQS names of every DLQ: each queue's and each rule target's."""

    def __init__(self, name: str, args: MessagingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:messaging:Messaging", name, args, opts)

        self.bus = aws.cloudwatch.EventBus(f"{name}-bus", name=topology.bus_name(args.prefix),
                                           opts=self._child)
        self.bus_name = self.bus.name
        self.bus_arn = self.bus.arn
        self.queue_urls = {}
        self.queue_arns = {}
        self.alarm_topic, topic_policy = self._create_alarm_topic()
        self.alarm_topic_arn = self.alarm_topic.arn
        self.alarm_topic_policy = topic_policy
        """Alarms of other components wait for it too: it is what lets CloudWatch publish."""
        self._alarm_opts = pulumi.ResourceOptions(parent=self, depends_on=[topic_policy])
        self.source_queue_names = tuple(r.queue.name(args.prefix) for r in args.routes)
        self.dead_letter_queue_names = tuple(
            name for r in args.routes
            for name in (r.queue.dlq_name(args.prefix), r.target_dlq_name(args.prefix)))
        for route in args.routes:
            queue = self._create_queue(route.queue)
            self._create_route(route, queue)

        self.register_outputs({
            "busName": self.bus_name,
            "queueUrls": self.queue_urls,
            "alarmTopicArn": self.alarm_topic_arn,
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
        self._alarm_when_dlq_not_empty(
            f"{spec.key}-dlq", dlq, spec.dlq_name(prefix),
            f"Messages in the DLQ of {spec.name(prefix)}: the {spec.consumer} consumer failed "
            f"them {spec.max_receive_count} times. Inspect with "
            f"`order-platform dlq peek {spec.key}`, fix the cause, then "
            f"`order-platform dlq redrive {spec.key}`.")
        self._alarm_when_oldest_message_waits(spec.key, queue, spec.name(prefix))
        return queue

    def _create_route(self, route: topology.Route, queue: aws.sqs.Queue) -> None:
        prefix = self._args.prefix
        rule = aws.cloudwatch.EventRule(
            f"{self._name}-{route.name}", name=route.rule_name(prefix),
            event_bus_name=self.bus.name, event_pattern=json.dumps(route.event_pattern()),
            description=route.description or route.name, opts=self._child)
        target_dlq = self._sqs(f"{route.name}-target-dlq", route.target_dlq_name(prefix),
                               TARGET_DLQ_RETENTION_SECONDS)
        self._alarm_when_dlq_not_empty(
            f"{route.name}-target-dlq", target_dlq, route.target_dlq_name(prefix),
            f"Events the rule {route.rule_name(prefix)} could not deliver to its queue "
            "(queue policy, KMS or throttling). Inspect with "
            f"`order-platform dlq peek {route.queue.key} --target`, then "
            f"`order-platform dlq redrive {route.queue.key} --target`.")
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

    def _create_alarm_topic(self) -> tuple[aws.sns.Topic, aws.sns.TopicPolicy]:
        alarms, prefix = self._args.alarms, self._args.prefix
        key = kms.aliased_key(
            f"{self._name}-alarms", f"SSE of the {prefix} queue-alarm topic", f"{prefix}-alarms",
            self._child,
            policy=json.dumps(alerting.topic_key_policy(alarms.partition, alarms.account_id)))
        topic = aws.sns.Topic(f"{self._name}-alarms", name=f"{prefix}-alarms",
                              kms_master_key_id=key.arn, opts=self._child)
        policy = aws.sns.TopicPolicy(
            f"{self._name}-alarms", arn=topic.arn,
            policy=topic.arn.apply(
                lambda arn: json.dumps(alerting.topic_policy(arn, f"{prefix}-"))),
            opts=self._child)
        if alarms.email:
            aws.sns.TopicSubscription(f"{self._name}-alarms-email", topic=topic.arn,
                                      protocol="email", endpoint=alarms.email, opts=self._child)
        return topic, policy

    def _alarm(self, logical: str, queue: aws.sqs.Queue, *, name: str, metric: str,
               threshold: int, description: str) -> aws.cloudwatch.MetricAlarm:
        topic = [self.alarm_topic.arn]
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-{logical}-alarm", name=name, alarm_description=description,
            namespace=alerting.SQS_NAMESPACE, metric_name=metric,
            dimensions={"QueueName": queue.name}, statistic="Maximum",
            period=alerting.ALARM_PERIOD_SECONDS, evaluation_periods=1,
            comparison_operator="GreaterThanThreshold", threshold=threshold,
            # An idle queue stops publishing metrics after a few hours; silence is not trouble.
            treat_missing_data="notBreaching",
            alarm_actions=topic, ok_actions=topic, opts=self._alarm_opts)

    def _alarm_when_dlq_not_empty(self, logical: str, dlq: aws.sqs.Queue, dlq_name: str,
                                  description: str) -> None:
        self._alarm(logical, dlq, name=alerting.dlq_alarm_name(dlq_name),
                    metric=alerting.DLQ_METRIC, threshold=0, description=description)

    def _alarm_when_oldest_message_waits(self, key: str, queue: aws.sqs.Queue,
                                         queue_name: str) -> None:
        seconds = self._args.alarms.oldest_message_age_seconds
        self._alarm(
            f"{key}-age", queue, name=alerting.age_alarm_name(queue_name),
            metric=alerting.AGE_METRIC, threshold=seconds, description=(
                f"The oldest message in {queue_name} has waited over {seconds}s: its workers are "
                "stuck, crashing or scaled to zero. Check the worker Deployment and its logs."))
