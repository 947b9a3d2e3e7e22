"""What the pricing rules need besides one resource: volumes, pods, node counts, lookups."""

from __future__ import annotations

from cost.lines import Line
from cost.prices import PriceTable
from cost.traffic import Traffic
from infra import capacity
from infra.config import StackConfig
from infra.simulation import SimulatedResource, StackRun
from order_platform import processes

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
COLLECTOR = "kubernetes:opentelemetry.io/v1beta1:OpenTelemetryCollector"


class Context:
    """What the rules need besides one resource: the run, its config, prices, pods and nodes."""

    def __init__(self, run: StackRun, config: StackConfig, prices: PriceTable):
        self.run = run
        self.config = config
        self.prices = prices
        self.traffic = Traffic(config.orders_per_second)
        self._ids = {r.id: r for r in run.resources if r.id}
        self.pods = pods_running(run, config.orders_per_second)
        """Pods of each Deployment: the HPA's minimum, or what the traffic needs if more."""
        self.pool_nodes = _pool_nodes(run, self.pods, config.az_count)
        self.system_nodes = sum(desired_size(g) for g in run.of_type(NODE_GROUP))

    def line(self, resource: SimulatedResource, item: str, quantity: float, unit: str,
             price_key: str) -> Line:
        """A line of ``resource`` priced from the table's ``price_key``."""
        return Line(resource.name, item, quantity, unit, self.prices[price_key], price_key)

    def by_id(self, resource_id: str) -> SimulatedResource | None:
        """The resource with this provider id."""
        return self._ids.get(resource_id)

    @property
    def nodes(self) -> float:
        """Every node of the stack: the system group and Karpenter's."""
        return self.system_nodes + self.pool_nodes

    def consumers(self, queue_name: str) -> int:
        """Processes long-polling a queue: the pods of every process that consumes it."""
        prefix = self.config.prefix
        return sum(self.pods.get(p.role, 0) for p in processes.DEPLOYED
                   for q in p.consumes if q.name(prefix) == queue_name)


def desired_size(group: SimulatedResource) -> int:
    """The node group's desired size (what it runs until someone scales it)."""
    return int(group.inputs["scalingConfig"]["desiredSize"])


def pool_types(spec: dict) -> list[str]:
    """The instance types a NodePool spec allows."""
    requirements = spec["template"]["spec"]["requirements"]
    return next(req["values"] for req in requirements
                if req["key"] == "node.kubernetes.io/instance-type")


def pods_running(run: StackRun, orders_per_second: int) -> dict[str, int]:
    """Pods per Deployment at ``orders_per_second``: the capacity model's count
    (``infra.capacity.pods_at``) within the HPA's minimum and maximum."""
    return {h.inputs["spec"]["scaleTargetRef"]["name"]: min(
                int(h.inputs["spec"]["maxReplicas"]),
                max(int(h.inputs["spec"]["minReplicas"]), capacity.pods_at(
                    h.inputs["spec"]["scaleTargetRef"]["name"], orders_per_second)))
            for h in run.of_type(HPA)}


def _pool_nodes(run: StackRun, pods: dict[str, int], zones: int) -> int:
    """Karpenter's nodes for those pods and the collector: packed first-fit (as config.py
    checks the maxima), and at least one per zone a Deployment spreads its pods over."""
    pools = run.of_type(NODE_POOL)
    if not pools:
        return 0
    shape = capacity.INSTANCE_SHAPES[pool_types(pools[0].inputs["spec"])[0]]
    rooms = []
    for deployment in run.of_type(DEPLOYMENT):
        requests = deployment.inputs["spec"]["template"]["spec"]["containers"][0]["resources"][
            "requests"]
        pod = capacity.Room(capacity.cpu_millis(requests["cpu"]),
                            capacity.memory_mib(requests["memory"]))
        rooms += [pod] * pods.get(deployment.inputs["metadata"]["name"], 1)
    if run.of_type(COLLECTOR):
        size = capacity.COLLECTOR_SIZE
        rooms.append(capacity.Room(size.cpu_millis, size.memory_mib))
    packed = capacity.nodes_needed(rooms, capacity.schedulable(shape)) if rooms else 0
    return max(packed, min(zones, max(pods.values(), default=0)))
