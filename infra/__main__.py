"""The order-platform stack: the composition root of the Pulumi program.

Reads the stack config once, builds each component from the previous ones' outputs,
and is the only place that exports stack outputs (names in ``infra/outputs.py``).
Processes (roles, ports, probes, grace periods, grants) come from the catalogue,
``order_platform.processes``. ``main: infra/`` runs this file by path; ``infra.*`` imports
from the project's .venv, where requirements.txt installs tooling/ (the repository's
non-service packages) editable.
"""

from typing import cast

import pulumi
import pulumi_aws as aws

from infra import outputs, writer_capacity
from infra.capacity import POD_SIZES
from infra.components import telemetry_pipeline
from infra.components.backup import Backup, BackupArgs
from infra.components.cache import CACHE_PORT, CLIENT_ROLES, Cache, CacheArgs
from infra.components.cluster import (
    Cluster,
    ClusterArgs,
    SystemNodes,
    running_version,
)
from infra.components.collector import Collector, CollectorArgs
from infra.components.dashboard import DashboardArgs
from infra.components.database import Database, DatabaseArgs, running_major
from infra.components.database_restore import cluster_identifier
from infra.components.identity import (
    CacheSecretGrant,
    ServiceIdentities,
    ServiceIdentityArgs,
)
from infra.components.loadbalancer import ApiListener, LoadBalancer, LoadBalancerArgs
from infra.components.log_encryption import LogEncryption, LogEncryptionArgs
from infra.components.messaging import Messaging, MessagingArgs, QueueAlarmArgs
from infra.components.monitoring import (
    ApiAlarmThresholds,
    Monitoring,
    MonitoringArgs,
)
from infra.components.network import Network, NetworkArgs
from infra.components.node_autoscaling import NodeAutoscaling, NodeAutoscalingArgs
from infra.components.registry import Registry, RegistryArgs
from infra.components.workloads import (
    CacheEgress,
    CollectorAccess,
    Workloads,
    WorkloadsArgs,
    WorkloadSpec,
)
from infra.config import StackConfigError, load_stack_config
from infra.edge import build_edge
from infra.validation import (
    engine_change_problems,
    kubernetes_change_problems,
    support_warnings,
)
from infra.wiring import contract_values
from order_platform import processes
from order_platform.topology import ROUTES

NODE_PORTS = {"write-api": 30300, "read-api": 30301}
"""The fixed NodePort of each API process: the NLB's target groups point at these."""

config = load_stack_config()
prefix = config.prefix
apis = [p for p in processes.DEPLOYED if p.kind is processes.Kind.API]
if missing := sorted({p.role for p in apis} - set(NODE_PORTS)):
    raise ValueError(f"API processes without a NodePort in infra/__main__.py: {missing}")

aws_provider = aws.Provider("aws", region=config.region, default_tags={"tags": config.tags})
aws_only = pulumi.ResourceOptions(providers=[aws_provider])
invoke = pulumi.InvokeOptions(provider=aws_provider)
for warning in support_warnings(config):
    pulumi.log.warn(warning)
# Only the region's own zones: an opted-in Local Zone has no NAT gateway, Aurora or ElastiCache,
# and sorts first ("eu-west-1-...-1a" < "eu-west-1a").
zones = tuple(aws.get_availability_zones(
    state="available", filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
    opts=invoke).names[:config.az_count])
# The stack's cluster: <prefix>-db, or the one made by a restore (dbRestore), beside the old one.
db_identifier = cluster_identifier(f"{prefix}-db", config.db_restore)
# What runs now, read before anything changes: a change EKS or RDS would refuse half-way stops
# here instead (only the Kubernetes minor and the Aurora major are read).
if change_problems := [*kubernetes_change_problems(config, running_version(prefix, invoke)),
                       *engine_change_problems(config, running_major(db_identifier, invoke))]:
    raise StackConfigError(f"stack {config.stack!r}: " + "; ".join(change_problems))
caller = aws.get_caller_identity(opts=invoke)
partition = caller.arn.split(":")[1]
deployer = aws.iam.get_session_context(arn=caller.arn, opts=invoke).issuer_arn
if deployer not in (*config.access.deployer_role_arns, *config.access.admin_role_arns):
    pulumi.log.warn(f"{deployer} is not in clusterDeployerRoleArns: it has no access entry, so "
                    "every Kubernetes resource of this `up` will fail with Unauthorized")

logs = LogEncryption(prefix, LogEncryptionArgs(
    alias=prefix, region=config.region, account_id=caller.account_id, partition=partition),
    opts=aws_only)

network = Network(prefix, NetworkArgs(
    cidr=config.vpc_cidr, availability_zones=zones, nat_strategy=config.nat_strategy,
    region=config.region, log_retention_days=config.log_retention_days,
    log_kms_key_arn=logs.key_arn), opts=aws_only)

registry = Registry(prefix, RegistryArgs(
    repository_name=prefix, force_delete=not config.db_deletion_protection), opts=aws_only)

cluster = Cluster(prefix, ClusterArgs(
    cluster_name=prefix, kubernetes=config.kubernetes,
    support_type=config.cluster_support_type, region=config.region, vpc_id=network.vpc_id,
    private_subnet_ids=network.private_subnet_ids,
    public_access_cidrs=config.cluster_public_access_cidrs, access=config.access,
    system_nodes=SystemNodes(
        instance_types=config.system_node_instance_types, min_size=config.system_node_min_size,
        desired_size=config.system_node_desired_size, max_size=config.system_node_max_size),
    log_retention_days=config.log_retention_days, log_kms_key_arn=logs.key_arn,
    egress=network.egress), opts=aws_only)

database = Database(prefix, DatabaseArgs(
    identifier=db_identifier, vpc_id=network.vpc_id,
    isolated_subnet_ids=network.isolated_subnet_ids, availability_zones=zones,
    client_security_group_id=cluster.security_group_id,
    engine_version=config.db_engine_version,
    major_version_upgrade=config.db_major_version_upgrade,
    instance_class=config.db_instance_class,
    reader_count=config.db_reader_count, database_name=config.db_name,
    backup_retention_days=config.db_backup_retention_days,
    deletion_protection=config.db_deletion_protection, final_snapshot=config.db_final_snapshot,
    log_retention_days=config.log_retention_days, log_kms_key_arn=logs.key_arn,
    restore=config.db_restore), opts=aws_only)

# Off (no dbBackupCopyRegion), Aurora's own backups in this region are the only ones.
backup = Backup(prefix, BackupArgs(
    prefix=prefix, cluster_arn=database.cluster.arn, copy_region=config.db_backup_copy_region,
    retention_days=config.db_backup_retention_days,
    copy_retention_days=config.db_backup_copy_retention_days, tags=config.tags),
    opts=aws_only) if config.db_backup_copy_region else None

for warning in writer_capacity.writer_warnings(config.db_instance_class, config.max_replicas):
    pulumi.log.warn(warning)
if config.alarm_email is None and config.stack == "prod":
    pulumi.log.warn("alarmEmail is not set: the queue alarms notify a topic nobody subscribes to "
                    "(pulumi config set alarmEmail <address> --stack prod)")
messaging = Messaging(prefix, MessagingArgs(
    prefix=prefix, routes=ROUTES,
    alarms=QueueAlarmArgs(account_id=caller.account_id, partition=partition,
                          oldest_message_age_seconds=config.queue_age_alarm_seconds,
                          email=config.alarm_email)), opts=aws_only)

nodes = NodeAutoscaling(prefix, NodeAutoscalingArgs(
    prefix=prefix, cluster_name=cluster.name, partition=partition, region=config.region,
    account_id=caller.account_id, oidc_provider_arn=cluster.oidc_provider_arn,
    oidc_issuer=cluster.oidc_issuer, subnet_ids=network.private_subnet_ids,
    node_security_group_id=cluster.security_group_id,
    instance_types=config.node_pool_instance_types, shape=config.node_pool_shape,
    max_nodes=config.node_pool_max_nodes, ami_alias=config.karpenter_ami_alias,
    chart_version=config.kubernetes.karpenter_chart,
    # The chart keeps its replicas on different nodes: never more than there are system nodes.
    controller_replicas=min(2, config.system_node_min_size),
    alarm_topic_arn=messaging.alarm_topic_arn, alarm_topic_policy=messaging.alarm_topic_policy,
    node_tags=config.tags),
    opts=pulumi.ResourceOptions(providers=[aws_provider, cluster.provider]))

edge = build_edge(config, caller.account_id, aws_only)
load_balancer = LoadBalancer(prefix, LoadBalancerArgs(
    name=f"{prefix}-api", target_group_prefix=f"op-{config.stack}", vpc_id=network.vpc_id,
    public_subnet_ids=network.public_subnet_ids, allowed_cidrs=config.nlb_allowed_cidrs,
    # Every API has a port (tests/unit/test_process_catalogue.py).
    listeners=tuple(ApiListener(p.role, cast(int, p.port), NODE_PORTS[p.role]) for p in apis),
    node_security_group_id=cluster.security_group_id,
    node_autoscaling_group_name=cluster.node_autoscaling_group_name,
    deletion_protection=config.lb_deletion_protection,
    # Instance targets: a system node leaving keeps its flows as long as an API may still be
    # answering a request it took (its drain, then its shutdown grace).
    deregistration_delay_seconds=max(p.drain_seconds + p.shutdown_grace_seconds for p in apis),
    tls=edge.tls), opts=aws_only)

# Off, nothing of the cache exists and the read API reads the Aurora reader directly.
cache = Cache(prefix, CacheArgs(
    identifier=f"{prefix}-cache", vpc_id=network.vpc_id,
    private_subnet_ids=network.private_subnet_ids, availability_zones=zones,
    client_security_group_id=cluster.security_group_id, node_type=config.cache_node_type,
    replicas=config.cache_replicas), opts=aws_only) if config.cache_enabled else None

# Off, the services export no traces and nothing sends their metrics to CloudWatch.
collector = Collector(prefix, CollectorArgs(
    prefix=prefix, cluster_name=cluster.name, addon_versions=config.kubernetes.addons,
    region=config.region, oidc_provider_arn=cluster.oidc_provider_arn,
    oidc_issuer=cluster.oidc_issuer, workloads_namespace=config.namespace,
    metrics_namespace=prefix, trace_sample_percent=config.trace_sample_percent,
    log_retention_days=config.log_retention_days, log_kms_key_arn=logs.key_arn,
    cluster_ready=cluster.nodes_ready),
    opts=pulumi.ResourceOptions(providers=[aws_provider, cluster.provider]),
) if config.collector_enabled else None

monitoring = Monitoring(prefix, MonitoringArgs(
    prefix=prefix,
    dashboard=DashboardArgs(
        region=config.region, metrics_namespace=prefix, apis=tuple(p.role for p in apis),
        source_queues=(*messaging.source_queue_names, nodes.queue_name),
        dead_letter_queues=(*messaging.dead_letter_queue_names, nodes.dlq_name),
        collector_enabled=config.collector_enabled),
    thresholds=ApiAlarmThresholds(error_rate_percent=config.api_error_rate_alarm_percent,
                                  p99_seconds=config.api_latency_p99_alarm_seconds,
                                  min_requests=config.api_alarm_min_requests),
    processes=processes.DEPLOYED,
    alarm_topic_arn=messaging.alarm_topic_arn, alarm_topic_policy=messaging.alarm_topic_policy),
    opts=aws_only)

in_cluster = (*processes.DEPLOYED, processes.MIGRATE)
identities = ServiceIdentities(prefix, ServiceIdentityArgs(
    role_name_prefix=prefix, namespace=config.namespace, region=config.region,
    oidc_provider_arn=cluster.oidc_provider_arn, oidc_issuer=cluster.oidc_issuer,
    db_secret_arn=database.secret_arn, db_secret_kms_key_arn=database.secret_kms_key_arn,
    processes=in_cluster, queue_arns=messaging.queue_arns, event_bus_arn=messaging.bus_arn,
    cache=CacheSecretGrant(roles=CLIENT_ROLES, secret_arn=cache.auth_secret_arn,
                           key_arn=cache.key_arn) if cache else None),
    opts=aws_only)

cache_url: pulumi.Input[str] = cache.url if cache else ""
cache_auth_secret_arn: pulumi.Input[str] = cache.auth_secret_arn if cache else ""
otlp_endpoint: pulumi.Input[str] = collector.otlp_endpoint if collector else ""
config_data = contract_values(
    db_secret_arn=database.secret_arn, db_writer_endpoint=database.writer_endpoint,
    db_reader_endpoint=database.reader_endpoint, db_port=database.port,
    db_name=database.cluster.database_name, event_bus_name=messaging.bus_name,
    queue_urls=messaging.queue_urls, aws_region=config.region,
    read_api_url=load_balancer.urls["read-api"], worker_concurrency=config.worker_concurrency,
    cache_url=cache_url, cache_auth_secret_arn=cache_auth_secret_arn,
    otel_exporter_otlp_endpoint=otlp_endpoint, auth=edge.issuer)

namespace: pulumi.Input[str] = config.namespace
image = registry.release_image(config.image_tag)
if image is None:
    pulumi.log.warn(f"ECR repository {prefix} is new: the services are not deployed yet. Push "
                    f"the image (make image STACK={config.stack} TAG={config.image_tag}), then "
                    "run `make up` again.")
else:
    workloads = Workloads(prefix, WorkloadsArgs(
        namespace=config.namespace, image=image, release=config.image_tag,
        config_data=config_data, role_arns=identities.role_arns,
        workloads=tuple(
            WorkloadSpec(p, config.scales[p.role].min_replicas,
                         config.scales[p.role].max_replicas, POD_SIZES[p.role],
                         node_port=NODE_PORTS.get(p.role))
            for p in processes.DEPLOYED),
        migration=processes.MIGRATE, migration_size=POD_SIZES[processes.MIGRATE.role],
        vpc_cidr=network.vpc_cidr,
        database_cidrs=tuple(network.isolated_cidrs),
        database_port=5432,
        migration_depends_on=[database, identities, messaging, nodes.node_pool,
                              *([cache] if cache else [])],
        cache=CacheEgress(roles=CLIENT_ROLES, cidrs=tuple(network.private_cidrs),
                          port=CACHE_PORT) if cache else None,
        collector=CollectorAccess(
            namespace=collector.namespace, service_account=collector.service_account,
            otlp_ports=(telemetry_pipeline.OTLP_HTTP_PORT, telemetry_pipeline.OTLP_GRPC_PORT),
            pod_labels=collector.pod_labels,
        ) if collector else None,
    ), opts=pulumi.ResourceOptions(providers=[cluster.provider]))
    namespace = workloads.namespace_name

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
pulumi.export(outputs.NAMESPACE, namespace)
pulumi.export(outputs.CACHE_URL, cache_url)
pulumi.export(outputs.CACHE_AUTH_SECRET_ARN, cache_auth_secret_arn)
pulumi.export(outputs.OTLP_ENDPOINT, otlp_endpoint)
pulumi.export(outputs.DASHBOARD_NAME, monitoring.dashboard_name)
pulumi.export(outputs.AUTH_ISSUER, edge.issuer.issuer)
pool = edge.user_pool  # none of these without one: the other issuer has its own clients
pulumi.export(outputs.AUTH_TOKEN_URL, pool.token_url if pool else "")
pulumi.export(outputs.PEOPLE_CLIENT_ID, pool.people_client_id if pool else "")
pulumi.export(outputs.MACHINE_CLIENT_ID, pool.machine_client_id if pool else "")
pulumi.export(outputs.MACHINE_CLIENT_SECRET, pool.machine_client_secret if pool else "")
