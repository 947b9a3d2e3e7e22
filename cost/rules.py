"""The pricing rules: one per billed AWS or Kubernetes type, and the types that bill nothing.

Each rule turns one resource into the lines it costs a month. Quantities come from the resource's
own inputs (instance classes, node counts, NodePool limits, endpoint subnets, log retention);
what only traffic decides comes from ``ordersPerSecond`` and ``cost.assumptions``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from cost import assumptions as assume
from cost.context import (
    HPA,
    NODE_CLASS,
    NODE_GROUP,
    NODE_POOL,
    Context,
    desired_size,
    pool_types,
)
from cost.lines import Line
from infra import capacity
from infra.components import telemetry_pipeline as pipeline
from infra.simulation import SimulatedResource
from order_platform import processes
from order_platform.topology import ROUTES

HOURS = assume.HOURS_PER_MONTH
GB = 1e9


class UnpricedResourceError(KeyError):
    """The program creates a type with no pricing rule and no place in FREE."""


Rule = Callable[[SimulatedResource, Context], Iterator[Line]]
RULES: dict[str, Rule] = {}

FREE = frozenset({
    # No charge of their own: what they do is priced where it is billed.
    "aws:autoscaling/attachment:Attachment",
    "aws:backup/selection:Selection",
    "aws:backup/vault:Vault",  # what it stores is priced on the plan (cost/recovery.py)
    "aws:cloudwatch/eventRule:EventRule",  # events are priced on the bus
    "aws:cloudwatch/eventTarget:EventTarget",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/flowLog:FlowLog",  # priced as log ingestion on its log group
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/launchTemplate:LaunchTemplate",  # its volumes are priced on the node group
    "aws:ec2/route:Route",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/vpc:Vpc",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:elasticache/subnetGroup:SubnetGroup",
    "aws:eks/accessEntry:AccessEntry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    "aws:eks/addon:Addon",  # runs on the nodes
    "aws:iam/instanceProfile:InstanceProfile",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:kms/alias:Alias",
    "aws:secretsmanager/secretVersion:SecretVersion",  # priced on its secret
    "aws:lb/listener:Listener",  # priced on the load balancer (hours and LCUs)
    "aws:lb/targetGroup:TargetGroup",
    "aws:rds/clusterParameterGroup:ClusterParameterGroup",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:sns/topic:Topic",  # alarm notifications: within the free tier
    "aws:sns/topicPolicy:TopicPolicy",
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:sqs/queuePolicy:QueuePolicy",
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "random:index/randomPassword:RandomPassword",  # a value in the state, nothing in AWS
    # Kubernetes objects run on the nodes, which are priced; Karpenter's chart too.
    "kubernetes:helm.sh/v3:Release",
    "kubernetes:apps/v1:Deployment",
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:batch/v1:Job",
    "kubernetes:core/v1:ConfigMap",
    "kubernetes:core/v1:Namespace",
    "kubernetes:core/v1:Service",
    "kubernetes:core/v1:ServiceAccount",
    "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "kubernetes:policy/v1:PodDisruptionBudget",
    "kubernetes:rbac.authorization.k8s.io/v1:Role",
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    NODE_CLASS,  # its volumes are priced with the NodePool's nodes
})
NOT_RESOURCES = ("pulumi:providers:", "order-platform:")


def rule(*types: str) -> Callable[[Rule], Rule]:
    """Register a pricing rule for the given type tokens."""
    def register(fn: Rule) -> Rule:
        for token in types:
            RULES[token] = fn
        return fn
    return register


@rule("aws:eks/cluster:Cluster")
def _control_plane(r: SimulatedResource, c: Context) -> Iterator[Line]:
    support = (r.inputs.get("upgradePolicy") or {}).get("supportType", "STANDARD")
    yield c.line(r, f"EKS control plane ({support})", HOURS, "hour",
                 f"eks:cluster-hour:{support}")


@rule(NODE_GROUP)
def _system_nodes(r: SimulatedResource, c: Context) -> Iterator[Line]:
    instance_type = r.inputs["instanceTypes"][0]
    nodes = desired_size(r)
    yield c.line(r, f"{nodes} x {instance_type} (system nodes, desired size)", nodes * HOURS,
                 "instance-hour", f"ec2:instance-hour:{instance_type}")
    template = c.by_id(str((r.inputs.get("launchTemplate") or {}).get("id", "")))
    for mapping in (template.inputs.get("blockDeviceMappings") or []) if template else []:
        ebs = mapping["ebs"]
        size, kind = int(ebs["volumeSize"]), ebs["volumeType"]
        yield c.line(r, f"{nodes} x {size} GB {kind} root volume", nodes * size, "GB-month",
                     f"ebs:{kind}-gb-month")


@rule(NODE_POOL)
def _workload_nodes(r: SimulatedResource, c: Context) -> Iterator[Line]:
    allowed = pool_types(r.inputs["spec"])
    # Karpenter launches the cheapest on-demand type the pool allows.
    cheapest = min(allowed, key=lambda t: c.prices[f"ec2:instance-hour:{t}"])
    nodes = c.pool_nodes
    yield c.line(r, f"{nodes:g} x {cheapest} (Karpenter, average)", nodes * HOURS,
                 "instance-hour", f"ec2:instance-hour:{cheapest}")
    for node_class in c.run.of_type(NODE_CLASS):
        for mapping in node_class.inputs["spec"].get("blockDeviceMappings") or []:
            ebs = mapping["ebs"]
            size = capacity.memory_mib(ebs["volumeSize"]) / 1024
            yield c.line(r, f"{nodes:g} x {size:g} GB {ebs['volumeType']} root volume",
                         nodes * size, "GB-month", f"ebs:{ebs['volumeType']}-gb-month")


@rule("aws:ec2/natGateway:NatGateway")
def _nat(r: SimulatedResource, c: Context) -> Iterator[Line]:
    gateways = len(c.run.of_type("aws:ec2/natGateway:NatGateway"))
    yield c.line(r, "NAT gateway", HOURS, "hour", "vpc:nat-gateway-hour")
    data = c.nodes * assume.NAT_GB_PER_NODE / gateways
    yield c.line(r, "NAT data processed", data, "GB", "vpc:nat-gateway-gb")


@rule("aws:ec2/eip:Eip")
def _public_ip(r: SimulatedResource, c: Context) -> Iterator[Line]:
    yield c.line(r, "public IPv4 address", HOURS, "hour", "vpc:public-ipv4-hour")


@rule("aws:lb/loadBalancer:LoadBalancer")
def _nlb(r: SimulatedResource, c: Context) -> Iterator[Line]:
    yield c.line(r, "network load balancer", HOURS, "hour", "elb:nlb-hour")
    per_second = c.traffic.orders_per_second * assume.REQUESTS_PER_ORDER
    gb_per_hour = per_second * assume.BYTES_PER_REQUEST * 3600 / GB
    # An NLB LCU is 800 new TCP flows/s or 1 GB/h processed, whichever is more.
    lcus = max(per_second / 800, gb_per_hour)
    yield c.line(r, f"{lcus:.3f} LCU (requests)", lcus * HOURS, "LCU-hour", "elb:nlb-lcu-hour")
    if not r.inputs.get("internal"):
        zones = len(r.inputs.get("subnets") or [])
        yield c.line(r, f"{zones} public IPv4 addresses (one per AZ)", zones * HOURS, "hour",
                     "vpc:public-ipv4-hour")


@rule("aws:ec2/vpcEndpoint:VpcEndpoint")
def _endpoint(r: SimulatedResource, c: Context) -> Iterator[Line]:
    if r.inputs.get("vpcEndpointType") != "Interface":
        return  # gateway endpoints (S3) are free
    zones = len(r.inputs.get("subnetIds") or [])
    service = r.inputs["serviceName"].rsplit(".", 1)[-1]
    yield c.line(r, f"{service} interface endpoint in {zones} AZs", zones * HOURS, "hour",
                 "vpc:interface-endpoint-hour")
    messages = c.traffic.messages_per_queue * len(ROUTES)
    carried = {"sqs": messages * assume.ENDPOINT_BYTES_PER_MESSAGE,
               "events": c.traffic.events * assume.ENDPOINT_BYTES_PER_EVENT}.get(service, 0.0)
    if carried:
        yield c.line(r, f"{service} endpoint data", carried / GB, "GB",
                     "vpc:interface-endpoint-gb")


@rule("aws:rds/clusterInstance:ClusterInstance")
def _db_instance(r: SimulatedResource, c: Context) -> Iterator[Line]:
    instance_class = r.inputs["instanceClass"]
    yield c.line(r, f"Aurora PostgreSQL {instance_class}", HOURS, "instance-hour",
                 f"rds:aurora-postgresql-hour:{instance_class}")
    if r.inputs.get("monitoringInterval"):
        ingested = assume.ENHANCED_MONITORING_GB_PER_INSTANCE
        yield c.line(r, "Enhanced Monitoring logs ingested", ingested, "GB", "logs:ingest-gb")


@rule("aws:rds/cluster:Cluster")
def _db_storage(r: SimulatedResource, c: Context) -> Iterator[Line]:
    stored = c.traffic.database_gb
    yield c.line(r, "Aurora storage (after a month of orders)", stored, "GB-month",
                 "rds:aurora-storage-gb-month")
    ios = (c.traffic.orders * assume.DB_IOS_PER_ORDER
           + assume.DB_BASELINE_IOPS * assume.SECONDS_PER_MONTH)
    yield c.line(r, "Aurora I/O requests", ios / 1e6, "million", "rds:aurora-io-million")
    if r.inputs.get("manageMasterUserPassword"):
        yield c.line(r, "RDS-managed master secret", 1, "secret-month",
                     "secretsmanager:secret-month")


def _consumers(queue_name: str, c: Context) -> float:
    """Processes long-polling a queue: replicas (HPA minima) of every process that consumes it."""
    minima = {h.inputs["spec"]["scaleTargetRef"]["name"]: int(h.inputs["spec"]["minReplicas"])
              for h in c.run.of_type(HPA)}
    prefix = c.config.prefix
    return sum(minima.get(p.role, 0) for p in processes.DEPLOYED
               for q in p.consumes if q.name(prefix) == queue_name)


@rule("aws:sqs/queue:Queue")
def _queue(r: SimulatedResource, c: Context) -> Iterator[Line]:
    name = r.inputs.get("name", r.name)
    routed = [route for route in ROUTES if route.queue.name(c.config.prefix) == name]
    messages = c.traffic.messages_per_queue * len(routed)
    polls = _consumers(name, c) * assume.SQS_IDLE_POLLS_PER_CONSUMER
    if name.endswith("karpenter-interruption"):
        polls = assume.SQS_IDLE_POLLS_PER_CONSUMER  # the Karpenter controller's leader
    requests = messages * assume.SQS_REQUESTS_PER_MESSAGE + polls
    if requests:
        yield c.line(r, "SQS requests (messages and long polls)", requests / 1e6, "million",
                     "sqs:request-million")


@rule("aws:cloudwatch/eventBus:EventBus")
def _bus(r: SimulatedResource, c: Context) -> Iterator[Line]:
    yield c.line(r, "custom events put on the bus", c.traffic.events / 1e6, "million",
                 "events:custom-event-million")


def _log_volume(r: SimulatedResource, c: Context) -> tuple[str, float]:
    name = r.inputs.get("name", "")
    if name.startswith("/vpc/"):
        return "VPC flow logs", c.nodes * assume.FLOW_LOG_GB_PER_NODE
    if name.startswith("/aws/eks/"):
        return "EKS control-plane logs", assume.CONTROL_PLANE_LOG_GB
    if name.startswith("/aws/rds/"):
        return "Aurora postgresql log", assume.POSTGRESQL_LOG_GB
    if name == f"/{c.config.prefix}/metrics":
        return "collector EMF metric events", _scraped_pods(c) * assume.EMF_GB_PER_POD
    raise UnpricedResourceError(f"no log volume assumed for log group {name!r}: add one to "
                                "cost/rules.py and cost/assumptions.py")


@rule("aws:cloudwatch/logGroup:LogGroup")
def _logs(r: SimulatedResource, c: Context) -> Iterator[Line]:
    what, ingested = _log_volume(r, c)
    yield c.line(r, f"{what} ingested", ingested, "GB", "logs:ingest-gb")
    months_kept = int(r.inputs.get("retentionInDays") or 3653) / 30
    stored = ingested * months_kept * assume.LOG_COMPRESSION
    yield c.line(r, f"{what} stored ({months_kept:.1f} months kept, compressed)", stored,
                 "GB-month", "logs:store-gb-month")


@rule("aws:kms/key:Key")
def _key(r: SimulatedResource, c: Context) -> Iterator[Line]:
    yield c.line(r, "KMS customer-managed key", 1, "key-month", "kms:key-month")


@rule("aws:cloudwatch/metricAlarm:MetricAlarm")
def _alarm(r: SimulatedResource, c: Context) -> Iterator[Line]:
    # CloudWatch bills an alarm per metric it reads: a metric-math alarm is several.
    metrics = sum("metric" in q for q in r.inputs.get("metricQueries") or []) or 1
    yield c.line(r, f"CloudWatch alarm ({metrics} metric{'s' * (metrics > 1)})", metrics,
                 "alarm-month", "cloudwatch:alarm-month")


@rule("aws:cloudwatch/dashboard:Dashboard")
def _dashboard(r: SimulatedResource, c: Context) -> Iterator[Line]:
    yield c.line(r, "CloudWatch dashboard", HOURS, "hour", "cloudwatch:dashboard-hour")


@rule("aws:secretsmanager/secret:Secret")
def _secret(r: SimulatedResource, c: Context) -> Iterator[Line]:
    yield c.line(r, "Secrets Manager secret", 1, "secret-month", "secretsmanager:secret-month")


def _scraped_pods(c: Context) -> int:
    """Pods the collector scrapes: every Deployment at its HPA minimum."""
    return sum(int(h.inputs["spec"]["minReplicas"]) for h in c.run.of_type(HPA))


@rule("kubernetes:opentelemetry.io/v1beta1:OpenTelemetryCollector")
def _collector(r: SimulatedResource, c: Context) -> Iterator[Line]:
    # Its pod runs on the nodes (priced there), its log events on its log group; what it
    # creates besides are CloudWatch metrics and X-Ray traces.
    apis = sum(p.kind is processes.Kind.API for p in processes.DEPLOYED)
    metrics = (apis * (1 + assume.STATUS_CLASSES_SEEN + len(pipeline.latency_bounds()))
               + len(pipeline.OUTBOX_GAUGES) + assume.FINAL_STATUSES
               + len(processes.DEPLOYED))  # each process's pool bound: the daemons' heartbeat
    yield c.line(r, f"{metrics} CloudWatch metrics (EMF)", metrics, "metric-month",
                 "cloudwatch:metric-month")
    percent = r.inputs["spec"]["config"]["processors"]["probabilistic_sampler"][
        "sampling_percentage"]
    traces = c.traffic.orders * assume.TRACES_PER_ORDER * percent / 100
    yield c.line(r, f"X-Ray traces recorded ({percent}% sampled)", traces / 1e6, "million",
                 "xray:trace-million")


@rule("aws:ecr/repository:Repository")
def _registry(r: SimulatedResource, c: Context) -> Iterator[Line]:
    stored = assume.IMAGES_KEPT * assume.IMAGE_GB
    yield c.line(r, f"{assume.IMAGES_KEPT} images stored", stored, "GB-month",
                 "ecr:storage-gb-month")


@rule("aws:elasticache/replicationGroup:ReplicationGroup", "aws:elasticache/cluster:Cluster")
def _cache(r: SimulatedResource, c: Context) -> Iterator[Line]:
    node_type, engine = r.inputs["nodeType"], r.inputs.get("engine", "redis")
    nodes = int(r.inputs.get("numCacheClusters") or r.inputs.get("numCacheNodes") or 1)
    yield c.line(r, f"{nodes} x ElastiCache for {engine.capitalize()} {node_type}",
                 nodes * HOURS, "node-hour", f"elasticache:node-hour:{engine}:{node_type}")
