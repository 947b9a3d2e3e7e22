"""The shared fixtures really start PostgreSQL and the emulator, and provision the topology."""

import boto3

from order_platform import topology


def test_schema_is_migrated(superuser_conn):
    with superuser_conn.cursor() as cur:
        cur.execute("SELECT to_regclass('public.outbox'), to_regclass('public.products')")
        assert cur.fetchone() == ("outbox", "products")


def test_every_topology_queue_has_a_redrive_policy(platform_env, aws_credentials_env):
    sqs = boto3.client("sqs", region_name=platform_env["AWS_REGION"],
                       endpoint_url=platform_env["AWS_ENDPOINT_URL"])
    for queue in topology.QUEUES:
        attrs = sqs.get_queue_attributes(QueueUrl=platform_env[queue.url_env_var],
                                         AttributeNames=["RedrivePolicy"])["Attributes"]
        assert str(queue.max_receive_count) in attrs["RedrivePolicy"]
