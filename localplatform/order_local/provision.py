"""Builds the local AWS side from the topology: secret, bus, queues, DLQs, rules, targets, and
the user pool (``order_local.identity``).

Returns the config contract's values, so every local process is configured from what was
actually created, as Pulumi outputs do in the cloud.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass

from order_platform import topology

LOCAL_REGION = "us-east-1"
LOCAL_ACCESS_KEY = "testing"  # the emulator accepts any credentials


@dataclass(frozen=True)
class LocalAws:
    """Where the emulator is and what to call things."""

    endpoint_url: str
    prefix: str = "order-platform-local"
    region: str = LOCAL_REGION


def client(aws: LocalAws, service: str):
    """A boto3 client of the emulator."""
    import boto3

    return boto3.session.Session(
        aws_access_key_id=LOCAL_ACCESS_KEY, aws_secret_access_key=LOCAL_ACCESS_KEY,
        region_name=aws.region,
    ).client(service, endpoint_url=aws.endpoint_url)


def put_db_secret(aws: LocalAws, *, username: str, password: str) -> str:
    """Create or update the DB secret; return its ARN."""
    sm = client(aws, "secretsmanager")
    name = f"{aws.prefix}/db"
    value = json.dumps({"username": username, "password": password})
    try:
        return sm.create_secret(Name=name, SecretString=value)["ARN"]
    except sm.exceptions.ResourceExistsException:
        sm.put_secret_value(SecretId=name, SecretString=value)
        return sm.describe_secret(SecretId=name)["ARN"]


def _queue(sqs, name: str, attributes: dict) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    return url, arn


def build_messaging(aws: LocalAws) -> dict[str, str]:
    """Create the bus and, per route, its queue, DLQs, rule and target. Idempotent."""
    events = client(aws, "events")
    sqs = client(aws, "sqs")
    bus = topology.bus_name(aws.prefix)
    with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
        events.create_event_bus(Name=bus)
    env = {"EVENT_BUS_NAME": bus}
    for route in topology.ROUTES:
        queue = route.queue
        _, dlq_arn = _queue(sqs, queue.dlq_name(aws.prefix),
                            {"MessageRetentionPeriod": str(queue.dlq_retention_seconds)})
        url, arn = _queue(sqs, queue.name(aws.prefix), {
            "VisibilityTimeout": str(queue.visibility_timeout_seconds),
            "MessageRetentionPeriod": str(queue.retention_seconds),
            "ReceiveMessageWaitTimeSeconds": str(queue.receive_wait_seconds),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                         "maxReceiveCount": queue.max_receive_count}),
        })
        _, target_dlq_arn = _queue(sqs, route.target_dlq_name(aws.prefix),
                                   {"MessageRetentionPeriod": str(queue.dlq_retention_seconds)})
        rule_arn = events.put_rule(
            Name=route.rule_name(aws.prefix), EventBusName=bus,
            EventPattern=json.dumps(route.event_pattern()), State="ENABLED",
            Description=route.description,
        )["RuleArn"]
        events.put_targets(Rule=route.rule_name(aws.prefix), EventBusName=bus, Targets=[{
            "Id": queue.key, "Arn": arn,
            "DeadLetterConfig": {"Arn": target_dlq_arn},
            "RetryPolicy": {"MaximumRetryAttempts": route.target_max_retry_attempts,
                            "MaximumEventAgeInSeconds": route.target_max_event_age_seconds},
        }])
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }],
        })})
        env[queue.url_env_var] = url
    return env


def build_identity(aws: LocalAws):
    """The user pool and its clients (imported here: identity imports this module)."""
    from order_local.identity import build_identity as build

    return build(aws)


def provision_contract(aws: LocalAws, *, db_port: int, db_name: str, db_user: str,
                       db_password: str, db_ssl_root_cert: str,
                       db_reader_host: str = "127.0.0.1") -> dict[str, str]:
    """Create the DB secret and the topology; return the config contract that points at them.

    The one place the local platform, the tests and the benchmarks get their environment
    from, so all of them configure processes from what was actually built.
    """
    return {
        "DB_SECRET_ARN": put_db_secret(aws, username=db_user, password=db_password),
        "DB_WRITER_ENDPOINT": "127.0.0.1",
        "DB_READER_ENDPOINT": db_reader_host,
        "DB_PORT": str(db_port),
        "DB_NAME": db_name,
        "DB_SSL_ROOT_CERT": db_ssl_root_cert,
        "AWS_REGION": aws.region,
        "AWS_ENDPOINT_URL": aws.endpoint_url,
        # boto3 insists on credentials; the emulator accepts any.
        "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": LOCAL_ACCESS_KEY,
        **build_messaging(aws),
        **build_identity(aws).contract(),
    }
