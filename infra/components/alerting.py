"""What the queue alarms watch, and the policies that let CloudWatch reach the alarm topic.

Pure data and documents: ``Messaging`` builds the resources from them, the tests and the
README read the same constants.
"""

from __future__ import annotations

from infra.components import kms

SQS_NAMESPACE = "AWS/SQS"
DLQ_METRIC = "ApproximateNumberOfMessagesVisible"
"""A DLQ alarm fires as soon as one message is visible: nothing lands there on a good day."""
AGE_METRIC = "ApproximateAgeOfOldestMessage"
"""A source-queue alarm fires when the oldest message waits too long: a stuck or absent worker."""
ALARM_PERIOD_SECONDS = 60  # SQS publishes its metrics once a minute
CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"


def dlq_alarm_name(dlq_name: str) -> str:
    """The alarm on a DLQ: ``order-platform-dev-stock-validation-dlq-not-empty``."""
    return f"{dlq_name}-not-empty"


def age_alarm_name(queue_name: str) -> str:
    """The alarm on a source queue's oldest message: ``...-stock-validation-oldest-message-age``."""
    return f"{queue_name}-oldest-message-age"


def topic_key_policy(partition: str, account_id: str) -> dict:
    """The alarm topic's KMS key policy: the account administers it, CloudWatch may encrypt.

    The AWS-managed ``alias/aws/sns`` key cannot be used: its policy cannot grant CloudWatch
    ``kms:GenerateDataKey*``, and alarms on a topic encrypted with it fail to notify.
    CloudWatch's grant has no source condition: the key serves only this topic, and who may
    publish to the topic is decided by the topic policy (account and alarm ARN scoped).
    """
    return kms.key_policy(partition, account_id, {
        "Sid": "CloudWatchAlarmsEncrypt", "Effect": "Allow",
        "Principal": {"Service": CLOUDWATCH_PRINCIPAL},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"})


def topic_policy(topic_arn: str, alarm_name_prefix: str) -> dict:
    """Only this account's alarms named ``<alarm_name_prefix>*`` may publish to the topic."""
    partition, region, account_id = (topic_arn.split(":")[i] for i in (1, 3, 4))
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "OnlyOurAlarmsPublish", "Effect": "Allow",
            "Principal": {"Service": CLOUDWATCH_PRINCIPAL},
            "Action": "sns:Publish", "Resource": topic_arn,
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": (f"arn:{partition}:cloudwatch:{region}:{account_id}"
                                              f":alarm:{alarm_name_prefix}*")},
            },
        }],
    }
