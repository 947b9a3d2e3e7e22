"""The process catalogue: every process of the platform, declared once.

Like ``topology.py`` for events, this module is the one source of truth for processes:
their role, how they are started, the ports they listen and answer probes on, how long
they may take to stop, the queues they consume, the database endpoints they use and the
AWS permissions they need. Everything that starts, deploys, probes or grants a process
reads it: the image's entrypoint (``order-platform <role>``), gunicorn's config, the
local platform, the test and bench launchers, the Pulumi Workloads and IRSA components,
and the policies. A guard test fails when any of them drifts.

Standard library only, so that the Pulumi program and the policy pack can import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from order_platform import topology

SHUTDOWN_GRACE_SECONDS = 25
"""How long a process may take to finish its in-flight work after SIGTERM."""
KILL_MARGIN_SECONDS = 5
"""What the pod's termination grace adds on top, so SIGKILL never cuts a clean stop short."""
DRAIN_SECONDS = 15
"""How long an API pod keeps serving, not ready, before its SIGTERM (the pod's preStop): the
EndpointSlice change has to reach kube-proxy on every node (seconds on a busy cluster) while
the connections clients already hold are closed one response at a time
(``entrypoints/web/draining.py``)."""


class Kind(StrEnum):
    """How a process runs."""

    API = "api"
    """A gunicorn-served HTTP API: a Deployment behind the load balancer."""
    DAEMON = "daemon"
    """A long-running loop with a probe server: a Deployment with no Service."""
    JOB = "job"
    """Runs to completion once per release (a Kubernetes Job)."""
    TOOL = "tool"
    """Run by an operator on demand; never deployed."""


class Endpoint(StrEnum):
    """A database endpoint a process connects to."""

    WRITER = "writer"
    READER = "reader"


class Resource(StrEnum):
    """What a permission is granted on; the Pulumi program resolves each to ARNs."""

    CONSUMED_QUEUES = "consumed-queues"
    """The queues the process consumes (``Process.consumes``)."""
    EVENT_BUS = "event-bus"


@dataclass(frozen=True)
class Grant:
    """An IAM statement a process needs beyond reading the DB secret."""

    sid: str
    actions: tuple[str, ...]
    resource: Resource


@dataclass(frozen=True)
class Probes:
    """The HTTP paths the kubelet (and the local platform) asks."""

    liveness: str = "/healthz"
    readiness: str = "/readyz"


@dataclass(frozen=True)
class Process:
    """One process of the platform."""

    role: str
    """Deployment, ServiceAccount and container name, and the image's first argument."""
    kind: Kind
    description: str
    entry: str
    """For an API the WSGI app (``module:factory()``), otherwise the module run with -m."""
    port: int | None = None
    """The port an API serves on (probes included); None for the others."""
    health_port: int | None = None
    """The port of a daemon's /healthz and /readyz; None for APIs, jobs and tools."""
    endpoints: tuple[Endpoint, ...] = ()
    consumes: tuple[topology.Queue, ...] = ()
    grants: tuple[Grant, ...] = ()
    reaches_cache: bool = False
    """Talks to the product cache when the stack has one (``CACHE_URL``): the cluster lets it
    reach the cache's port, and its role may read the cache's AUTH secret."""
    shutdown_grace_seconds: int = SHUTDOWN_GRACE_SECONDS
    drain_seconds: int = 0
    """How long the process keeps serving after it is told to drain and before SIGTERM: an
    API's preStop; 0 for processes nobody connects to."""
    probes: Probes = Probes()

    @property
    def probe_port(self) -> int | None:
        """Where the probes answer: the API port, or a daemon's health port."""
        return self.port if self.kind is Kind.API else self.health_port

    @property
    def termination_grace_seconds(self) -> int:
        """The pod's terminationGracePeriodSeconds: the drain (preStop), the shutdown grace
        after SIGTERM, and a margin before SIGKILL."""
        return self.drain_seconds + self.shutdown_grace_seconds + KILL_MARGIN_SECONDS

    @property
    def deployed(self) -> bool:
        """True for the processes that run as Deployments."""
        return self.kind in (Kind.API, Kind.DAEMON)


WRITE_API = Process(
    role="write-api", kind=Kind.API,
    description="Commands: places orders and administers the catalogue, on the writer.",
    entry="order_platform.entrypoints.write_api.app:create_app()",
    port=3000, endpoints=(Endpoint.WRITER,), drain_seconds=DRAIN_SECONDS)
READ_API = Process(
    role="read-api", kind=Kind.API,
    description="Queries: orders and products, from the reader.",
    entry="order_platform.entrypoints.read_api.app:create_app()",
    port=3001, endpoints=(Endpoint.READER,), reaches_cache=True, drain_seconds=DRAIN_SECONDS)
WORKER = Process(
    role="worker", kind=Kind.DAEMON,
    description="Consumes the topology's queues: stock validation, inventory update and "
                "product-cache eviction.",
    entry="order_platform.entrypoints.worker",
    health_port=8081, endpoints=(Endpoint.WRITER, Endpoint.READER),
    consumes=topology.QUEUES, reaches_cache=True,
    grants=(Grant("ConsumeOwnQueues",
                  ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                   "sqs:GetQueueAttributes"), Resource.CONSUMED_QUEUES),))
RELAY = Process(
    role="relay", kind=Kind.DAEMON,
    description="Publishes the transactional outbox to the EventBridge bus.",
    entry="order_platform.entrypoints.relay",
    health_port=8082, endpoints=(Endpoint.WRITER,),
    grants=(Grant("PublishToBus", ("events:PutEvents",), Resource.EVENT_BUS),))
MIGRATE = Process(
    role="migrate", kind=Kind.JOB,
    description="Applies the schema migrations to the writer, once per release.",
    entry="order_platform.entrypoints.migrate", endpoints=(Endpoint.WRITER,))
DLQ = Process(
    role="dlq", kind=Kind.TOOL,
    description="Inspects and redrives dead letters and parked outbox rows.",
    entry="order_platform.entrypoints.dlq", endpoints=(Endpoint.WRITER,))
# DLQ runs with the operator's own credentials, so it has no grants and no IRSA role.

PROCESSES: MappingProxyType[str, Process] = MappingProxyType(
    {p.role: p for p in (WRITE_API, READ_API, WORKER, RELAY, MIGRATE, DLQ)})
"""Every process, by role."""

DEPLOYED: tuple[Process, ...] = tuple(p for p in PROCESSES.values() if p.deployed)
"""The processes that run continuously: the local platform and the cluster run these."""

CACHE_CLIENTS: tuple[Process, ...] = tuple(p for p in DEPLOYED if p.reaches_cache)
"""The processes that talk to the product cache: the read API reads and fills it, the worker
evicts from it. The cache's network rule and AUTH-secret grant are for these, and no others."""


def process(role: str) -> Process:
    """The process named ``role``; ValueError listing the roles when there is none."""
    try:
        return PROCESSES[role]
    except KeyError:
        raise ValueError(f"unknown process {role!r}; one of {', '.join(PROCESSES)}") from None
