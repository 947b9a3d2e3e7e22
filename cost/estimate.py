"""Price every resource a simulated stack registers: one line per billed item, and the total.

Each AWS or Kubernetes type the program creates is either priced by a rule below (``RULES``) or
listed as free of direct charge (``FREE``); an unknown type stops the estimate, so a new kind
of resource cannot go uncounted. Quantities come from the resources' own inputs (instance
classes, node counts, NodePool limits, endpoint subnets, log retention); what only traffic
decides comes from ``ordersPerSecond`` and ``cost.assumptions``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from cost import assumptions as assume
from cost.prices import PriceTable
from infra import capacity
from infra.config import StackConfig
from infra.simulation import SimulatedResource, StackRun
from order_platform import processes
from order_platform.topology import ROUTES

HOURS = assume.HOURS_PER_MONTH
GB = 1e9


class UnpricedResourceError(KeyError):
    """The program creates a type with no pricing rule and no place in FREE."""


@dataclass(frozen=True)
class Line:
    """One billed item of one resource for a month."""

    resource: str
    """The resource's logical name (``order-platform-prod-writer``)."""
    item: str
    quantity: float
    unit: str
    unit_price: float
    price_key: str = ""
    """The table's key (``ec2:instance-hour:m6i.large``)."""

    @property
    def kind(self) -> str:
        """What is billed, whatever the variant (``ec2:instance-hour``): how diffs pair lines."""
        return ":".join(self.price_key.split(":")[:2])

    @property
    def monthly(self) -> float:
        """What the item costs in a month, in the table's currency."""
        return self.quantity * self.unit_price


@dataclass
class Estimate:
    """A stack's monthly estimate: its lines, what it assumed and where the prices came from."""

    stack: str
    prefix: str
    """``order-platform-<stack>``: resource names without it pair across stacks."""
    lines: list[Line]
    prices: PriceTable
    orders_per_second: int

    @property
    def total(self) -> float:
        """The sum of every line."""
        return sum(line.monthly for line in self.lines)

    def by_resource(self) -> dict[str, float]:
        """Monthly cost per resource, largest first."""
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.resource] = totals.get(line.resource, 0.0) + line.monthly
        return dict(sorted(totals.items(), key=lambda item: -item[1]))


@dataclass(frozen=True)
class Traffic:
    """Monthly volumes that follow from the stack's ordersPerSecond."""

    orders_per_second: int

    @property
    def orders(self) -> float:
        """Orders in a month."""
        return self.orders_per_second * assume.SECONDS_PER_MONTH

    @property
    def messages_per_queue(self) -> float:
        """Each route delivers every order's event of its type once (topology.ROUTES)."""
        return self.orders

    @property
    def events(self) -> float:
        """Events put on the bus: one per route's event type per order."""
        return self.orders * sum(len(route.event_types) for route in ROUTES)


class Context:
    """What the rules need besides one resource: the run, its config, prices, node counts."""

    def __init__(self, run: StackRun, config: StackConfig, prices: PriceTable):
        self.run = run
        self.config = config
        self.prices = prices
        self.traffic = Traffic(config.orders_per_second)
        self._ids = {r.id: r for r in run.resources if r.id}
        self.pool_nodes = _pool_nodes(run)
        self.system_nodes = sum(_desired(g) for g in run.of_type(NODE_GROUP))

    def line(self, resource: SimulatedResource, item: str, quantity: float, unit: str,
             price_key: str) -> Line:
        """A line of ``resource`` priced from the table's ``price_key``."""
        return Line(resource.name, item, quantity, unit, self.prices[price_key], price_key)

    def by_id(self, resource_id: str) -> SimulatedResource | None:
        """The resource with this provider id."""
        return self._ids.get(resource_id)

    @property
    def nodes(self) -> float:
        """Every node of the stack on average: the system group and Karpenter's."""
        return self.system_nodes + self.pool_nodes


Rule = Callable[[SimulatedResource, Context], Iterator[Line]]
RULES: dict[str, Rule] = {}

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"

FREE = frozenset({
    # No charge of their own: what they do is priced where it is billed.
    "aws:autoscaling/attachment:Attachment",
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
    "aws:eks/accessEntry:AccessEntry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    "aws:eks/addon:Addon",  # runs on the nodes
    "aws:iam/instanceProfile:InstanceProfile",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:kms/alias:Alias",
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


def estimate(run: StackRun, config: StackConfig, prices: PriceTable) -> Estimate:
    """Every billed line of ``run``; raises on a type with neither a rule nor a place in FREE."""
    unknown = sorted({r.type for r in run.resources
                      if r.type not in RULES and r.type not in FREE
                      and not r.type.startswith(NOT_RESOURCES)})
    if unknown:
        raise UnpricedResourceError(f"no pricing rule for {unknown}: add one to cost/estimate.py "
                                    "(or list the type in FREE if it costs nothing itself)")
    context = Context(run, config, prices)
    lines = [line for r in sorted(run.resources, key=lambda r: r.name) if r.type in RULES
             for line in RULES[r.type](r, context)]
    return Estimate(stack=run.stack, prefix=config.prefix, lines=lines, prices=prices,
                    orders_per_second=config.orders_per_second)


def _desired(group: SimulatedResource) -> int:
    return int(group.inputs["scalingConfig"]["desiredSize"])


@rule("aws:eks/cluster:Cluster")
def _control_plane(r: SimulatedResource, c: Context) -> Iterator[Line]:
    support = (r.inputs.get("upgradePolicy") or {}).get("supportType", "STANDARD")
    yield c.line(r, f"EKS control plane ({support})", HOURS, "hour",
                f"eks:cluster-hour:{support}")


@rule(NODE_GROUP)
def _system_nodes(r: SimulatedResource, c: Context) -> Iterator[Line]:
    instance_type = r.inputs["instanceTypes"][0]
    nodes = _desired(r)
    yield c.line(r, f"{nodes} x {instance_type} (system nodes, desired size)", nodes * HOURS,
                "instance-hour", f"ec2:instance-hour:{instance_type}")
    template = c.by_id(str((r.inputs.get("launchTemplate") or {}).get("id", "")))
    for mapping in (template.inputs.get("blockDeviceMappings") or []) if template else []:
        ebs = mapping["ebs"]
        yield c.line(r, f"{nodes} x {ebs['volumeSize']} GB {ebs['volumeType']} root volume",
                    nodes * int(ebs["volumeSize"]), "GB-month", f"ebs:{ebs['volumeType']}-gb-month")


def _pool_nodes(run: StackRun) -> float:
    """Karpenter's average node count: a share of the NodePool's limit, at least the HPA minima."""
    pools = run.of_type(NODE_POOL)
    if not pools:
        return 0.0
    spec = pools[0].inputs["spec"]
    shape = capacity.INSTANCE_SHAPES[_pool_types(spec)[0]]
    limit = capacity.cpu_millis(spec["limits"]["cpu"]) / shape.cpu_millis
    return max(float(_baseline_nodes(run, shape)), assume.POOL_UTILISATION * limit)


def _pool_types(spec: dict) -> list[str]:
    requirements = spec["template"]["spec"]["requirements"]
    return next(req["values"] for req in requirements
                if req["key"] == "node.kubernetes.io/instance-type")


def _baseline_nodes(run: StackRun, shape: capacity.InstanceShape) -> int:
    """Workload nodes that the Deployments at their HPA minima need (first-fit, as config.py)."""
    minima = {h.inputs["spec"]["scaleTargetRef"]["name"]: int(h.inputs["spec"]["minReplicas"])
              for h in run.of_type(HPA)}
    pods = []
    for deployment in run.of_type(DEPLOYMENT):
        requests = deployment.inputs["spec"]["template"]["spec"]["containers"][0]["resources"][
            "requests"]
        pod = capacity.Room(capacity.cpu_millis(requests["cpu"]),
                            capacity.memory_mib(requests["memory"]))
        pods += [pod] * minima.get(deployment.inputs["metadata"]["name"], 1)
    return capacity.nodes_needed(pods, capacity.schedulable(shape)) if pods else 0


@rule(NODE_POOL)
def _workload_nodes(r: SimulatedResource, c: Context) -> Iterator[Line]:
    allowed = _pool_types(r.inputs["spec"])
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
    stored = assume.DB_BASE_GB + c.traffic.orders * assume.DB_BYTES_PER_ORDER / GB
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
    raise UnpricedResourceError(f"no log volume assumed for log group {name!r}: add one to "
                                "cost/estimate.py and cost/assumptions.py")


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
    yield c.line(r, "CloudWatch alarm", 1, "alarm-month", "cloudwatch:alarm-month")


@rule("aws:ecr/repository:Repository")
def _registry(r: SimulatedResource, c: Context) -> Iterator[Line]:
    stored = assume.IMAGES_KEPT * assume.IMAGE_GB
    yield c.line(r, f"{assume.IMAGES_KEPT} images stored", stored, "GB-month",
                "ecr:storage-gb-month")


@rule("aws:elasticache/replicationGroup:ReplicationGroup", "aws:elasticache/cluster:Cluster")
def _cache(r: SimulatedResource, c: Context) -> Iterator[Line]:
    node_type = r.inputs["nodeType"]
    nodes = int(r.inputs.get("numCacheClusters") or r.inputs.get("numCacheNodes") or 1)
    yield c.line(r, f"{nodes} x ElastiCache {node_type}", nodes * HOURS, "node-hour",
                f"elasticache:node-hour:{node_type}")
