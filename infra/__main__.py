"""The order-platform stack: the composition root of the Pulumi program.

Reads the stack config once, builds each component from the previous ones' outputs,
and is the only place that exports stack outputs (names in ``infra/outputs.py``).
"""

import sys
from pathlib import Path

# `main: infra/` runs this file with infra/ on sys.path; the repo root makes `infra.*` importable.
_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

import pulumi  # noqa: E402
import pulumi_aws as aws  # noqa: E402

from infra import outputs  # noqa: E402
from infra.components import iam  # noqa: E402
from infra.components.cluster import Cluster, ClusterArgs  # noqa: E402
from infra.components.database import Database, DatabaseArgs  # noqa: E402
from infra.components.identity import ServiceIdentities, ServiceIdentityArgs  # noqa: E402
from infra.components.loadbalancer import ApiListener, LoadBalancer, LoadBalancerArgs  # noqa: E402
from infra.components.messaging import Messaging, MessagingArgs, QueueAlarmArgs  # noqa: E402
from infra.components.network import Network, NetworkArgs  # noqa: E402
from infra.components.registry import Registry, RegistryArgs  # noqa: E402
from infra.components.workloads import Workloads, WorkloadsArgs, WorkloadSpec  # noqa: E402
from infra.config import load_stack_config  # noqa: E402
from infra.wiring import contract_values  # noqa: E402
from order_platform.processes import RELAY, WORKER  # noqa: E402
from order_platform.topology import QUEUES, ROUTES  # noqa: E402

WRITE_API_PORT = 3000
READ_API_PORT = 3001
NODE_PORTS = {"write-api": 30300, "read-api": 30301}
WORKER_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                  "sqs:GetQueueAttributes")

config = load_stack_config()
prefix = config.prefix

aws_provider = aws.Provider("aws", region=config.region, default_tags={"tags": config.tags})
aws_only = pulumi.ResourceOptions(providers=[aws_provider])
zones = tuple(aws.get_availability_zones(
    state="available", opts=pulumi.InvokeOptions(provider=aws_provider)).names[:config.az_count])

network = Network(prefix, NetworkArgs(
    cidr=config.vpc_cidr, availability_zones=zones, nat_strategy=config.nat_strategy,
    region=config.region, log_retention_days=config.log_retention_days), opts=aws_only)

registry = Registry(prefix, RegistryArgs(
    repository_name=prefix, force_delete=not config.db_deletion_protection), opts=aws_only)

cluster = Cluster(prefix, ClusterArgs(
    cluster_name=prefix, kubernetes_version=config.kubernetes_version, region=config.region,
    vpc_id=network.vpc_id, private_subnet_ids=network.private_subnet_ids,
    public_access_cidrs=config.cluster_public_access_cidrs,
    admin_role_arns=config.cluster_admin_role_arns,
    node_instance_types=config.node_instance_types, node_min_size=config.node_min_size,
    node_desired_size=config.node_desired_size, node_max_size=config.node_max_size,
    log_retention_days=config.log_retention_days), opts=aws_only)

database = Database(prefix, DatabaseArgs(
    identifier=f"{prefix}-db", vpc_id=network.vpc_id,
    isolated_subnet_ids=network.isolated_subnet_ids, availability_zones=zones,
    client_security_group_id=cluster.security_group_id,
    engine_version=config.db_engine_version, instance_class=config.db_instance_class,
    reader_count=config.db_reader_count, database_name=config.db_name,
    backup_retention_days=config.db_backup_retention_days,
    deletion_protection=config.db_deletion_protection, final_snapshot=config.db_final_snapshot,
    log_retention_days=config.log_retention_days), opts=aws_only)

caller = aws.get_caller_identity(opts=pulumi.InvokeOptions(provider=aws_provider))
if config.alarm_email is None and config.stack == "prod":
    pulumi.log.warn("alarmEmail is not set: the queue alarms notify a topic nobody subscribes to "
                    "(pulumi config set alarmEmail <address> --stack prod)")
messaging = Messaging(prefix, MessagingArgs(
    prefix=prefix, routes=ROUTES,
    alarms=QueueAlarmArgs(account_id=caller.account_id, partition=caller.arn.split(":")[1],
                          oldest_message_age_seconds=config.queue_age_alarm_seconds,
                          email=config.alarm_email)), opts=aws_only)

load_balancer = LoadBalancer(prefix, LoadBalancerArgs(
    name=f"{prefix}-api", target_group_prefix=f"op-{config.stack}", vpc_id=network.vpc_id,
    public_subnet_ids=network.public_subnet_ids, allowed_cidrs=config.nlb_allowed_cidrs,
    listeners=(ApiListener("write-api", WRITE_API_PORT, NODE_PORTS["write-api"]),
               ApiListener("read-api", READ_API_PORT, NODE_PORTS["read-api"])),
    node_security_group_id=cluster.security_group_id,
    node_autoscaling_group_name=cluster.node_autoscaling_group_name,
    deletion_protection=config.lb_deletion_protection), opts=aws_only)

identities = ServiceIdentities(prefix, ServiceIdentityArgs(
    role_name_prefix=prefix, namespace=config.namespace, region=config.region,
    oidc_provider_arn=cluster.oidc_provider_arn, oidc_issuer=cluster.oidc_issuer,
    db_secret_arn=database.secret_arn, db_secret_kms_key_arn=database.secret_kms_key_arn,
    grants={
        "write-api": [],
        "read-api": [],
        "worker": [iam.statement("ConsumeOwnQueues", WORKER_ACTIONS,
                                 [messaging.queue_arns[q.key] for q in QUEUES])],
        "relay": [iam.statement("PublishToBus", ["events:PutEvents"], [messaging.bus_arn])],
        "migrate": [],
    }), opts=aws_only)

config_data = contract_values(
    db_secret_arn=database.secret_arn, db_writer_endpoint=database.writer_endpoint,
    db_reader_endpoint=database.reader_endpoint, db_port=database.port,
    db_name=database.cluster.database_name, event_bus_name=messaging.bus_name,
    queue_urls=messaging.queue_urls, aws_region=config.region,
    read_api_url=load_balancer.urls["read-api"], worker_concurrency=config.worker_concurrency)

scales = config.scales
workloads = Workloads(prefix, WorkloadsArgs(
    namespace=config.namespace,
    image=registry.repository_url.apply(lambda url: f"{url}:{config.image_tag}"),
    release=config.image_tag,
    config_data=config_data,
    role_arns=identities.role_arns,
    workloads=(
        WorkloadSpec("write-api", WRITE_API_PORT, scales["write-api"].min_replicas,
                     scales["write-api"].max_replicas, node_port=NODE_PORTS["write-api"]),
        WorkloadSpec("read-api", READ_API_PORT, scales["read-api"].min_replicas,
                     scales["read-api"].max_replicas, node_port=NODE_PORTS["read-api"]),
        WorkloadSpec("worker", WORKER.health_port, scales["worker"].min_replicas,
                     scales["worker"].max_replicas),
        WorkloadSpec("relay", RELAY.health_port, scales["relay"].min_replicas,
                     scales["relay"].max_replicas, cpu_limit="500m"),
    ),
    vpc_cidr=network.vpc_cidr,
    database_cidrs=tuple(network.isolated_cidrs),
    database_port=5432,
    migration_depends_on=[database, identities, messaging],
), opts=pulumi.ResourceOptions(providers=[cluster.provider]))

pulumi.export(outputs.VPC_ID, network.vpc_id)
pulumi.export(outputs.CLUSTER_NAME, cluster.name)
pulumi.export(outputs.KUBECONFIG, cluster.kubeconfig)
pulumi.export(outputs.DB_WRITER_ENDPOINT, database.writer_endpoint)
pulumi.export(outputs.DB_READER_ENDPOINT, database.reader_endpoint)
pulumi.export(outputs.DB_SECRET_ARN, database.secret_arn)
pulumi.export(outputs.EVENT_BUS_NAME, messaging.bus_name)
pulumi.export(outputs.QUEUE_URLS, messaging.queue_urls)
pulumi.export(outputs.ALARM_TOPIC_ARN, messaging.alarm_topic_arn)
pulumi.export(outputs.ECR_REPOSITORY_URL, registry.repository_url)
pulumi.export(outputs.WRITE_API_URL, load_balancer.urls["write-api"])
pulumi.export(outputs.READ_API_URL, load_balancer.urls["read-api"])
pulumi.export(outputs.NAMESPACE, workloads.namespace_name)
