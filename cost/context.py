"""What the pricing rules need besides one resource: traffic volumes, node counts, lookups."""

from __future__ import annotations

from dataclasses import dataclass

from cost import assumptions as assume
from cost.lines import Line
from cost.prices import PriceTable
from infra import capacity
from infra.config import StackConfig
from infra.simulation import SimulatedResource, StackRun
from order_platform.topology import ROUTES

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


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
    def database_gb(self) -> float:
        """Aurora's volume after a month of orders."""
        return assume.DB_BASE_GB + self.orders * assume.DB_BYTES_PER_ORDER / 1e9

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
        """Every node of the stack on average: the system group and Karpenter's."""
        return self.system_nodes + self.pool_nodes


def desired_size(group: SimulatedResource) -> int:
    """The node group's desired size (what it runs until someone scales it)."""
    return int(group.inputs["scalingConfig"]["desiredSize"])


def _pool_nodes(run: StackRun) -> float:
    """Karpenter's average node count: a share of the NodePool's limit, at least the HPA minima."""
    pools = run.of_type(NODE_POOL)
    if not pools:
        return 0.0
    spec = pools[0].inputs["spec"]
    shape = capacity.INSTANCE_SHAPES[pool_types(spec)[0]]
    limit = capacity.cpu_millis(spec["limits"]["cpu"]) / shape.cpu_millis
    return max(float(_baseline_nodes(run, shape)), assume.POOL_UTILISATION * limit)


def pool_types(spec: dict) -> list[str]:
    """The instance types a NodePool spec allows."""
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
