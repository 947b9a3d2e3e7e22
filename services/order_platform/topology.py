"""The event topology: event types, the bus, routes and queues.

This module is the one source of truth for how events flow. The services,
the local platform (``order_local``) and the Pulumi program
(``infra/``) all read it; nobody copies names or numbers out of it.

It imports only the standard library so that the Pulumi program can use it
without pulling in Flask or psycopg2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

BUS_BASE_NAME = "orders"
"""The bus is named ``{prefix}-orders`` per environment (``order-platform-dev-orders``)."""


@dataclass(frozen=True)
class EventType:
    """One kind of domain event, as it appears on the bus: its ``name`` is the EventBridge
    ``detail-type``, its ``source`` the ``source``."""

    name: str
    source: str
    detail_fields: tuple[str, ...]
    """Required keys of ``detail`` besides the envelope fields below."""
    description: str


ENVELOPE_FIELDS = ("event_id", "occurred_at")
"""Every ``detail`` carries these. ``event_id`` is a uuid chosen when the outbox row is
written; it survives EventBridge retries (which get new envelope ids) and is the
deduplication key of every consumer."""
TRACE_FIELD = "traceparent"
"""Optional in ``detail``: the W3C trace context of the span that wrote the event, so the
relay and the consumers continue the order's trace across the bus and the queues."""
PLACED_AT_FIELD = "placed_at"
"""Optional in the details of events after ``OrderCreated``: when the order was placed (the
OrderCreated ``occurred_at``), so the consumer that settles it can time the whole journey."""

ORDERS_SOURCE = "order-platform.orders"
INVENTORY_SOURCE = "order-platform.inventory"
CATALOG_SOURCE = "order-platform.catalog"

ORDER_CREATED = EventType(
    "OrderCreated",
    ORDERS_SOURCE,
    ("order_id", "customer_id", "lines", "total_cents"),
    "An order was accepted and is PENDING; lines carry product_id, quantity, unit_price_cents.",
)
STOCK_VALIDATED = EventType(
    "StockValidated",
    INVENTORY_SOURCE,
    ("order_id", "lines"),
    "The reader saw enough stock for every line; the writer has not deducted it yet.",
)
ORDER_REJECTED = EventType(
    "OrderRejected",
    INVENTORY_SOURCE,
    ("order_id", "reason", "details"),
    "The order ended REJECTED (unknown product or insufficient stock).",
)
INVENTORY_UPDATED = EventType(
    "InventoryUpdated",
    INVENTORY_SOURCE,
    ("order_id", "lines"),
    "Stock for every line was deducted atomically; the order is CONFIRMED. Lines carry "
    "product_id, sku, quantity, unit_price_cents.",
)
PRODUCT_CREATED = EventType(
    "ProductCreated",
    CATALOG_SOURCE,
    ("product_id", "sku", "name", "price_cents", "stock"),
    "A product was added to the catalogue.",
)
PRODUCT_RESTOCKED = EventType(
    "ProductRestocked",
    CATALOG_SOURCE,
    ("product_id", "sku", "mode", "quantity", "stock"),
    "Stock was set (mode=set) or increased (mode=add) by an administrator.",
)

EVENT_TYPES: MappingProxyType[str, EventType] = MappingProxyType(
    {
        e.name: e
        for e in (
            ORDER_CREATED,
            STOCK_VALIDATED,
            ORDER_REJECTED,
            INVENTORY_UPDATED,
            PRODUCT_CREATED,
            PRODUCT_RESTOCKED,
        )
    }
)


@dataclass(frozen=True)
class Backoff:
    """Exponential waits: ``base_seconds`` doubled for each attempt, at most ``cap_seconds``."""

    base_seconds: float
    cap_seconds: float

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1, 2, ...), before jitter."""
        return min(self.cap_seconds, self.base_seconds * 2.0 ** (max(attempt, 1) - 1))


MESSAGE_RETRY = Backoff(base_seconds=1, cap_seconds=60)
"""A message whose handling failed (not a dependency) comes back after 1, 2, 4 ... 60 s.
Each return costs one of the queue's ``max_receive_count`` receives."""
DEPENDENCY_PROBE = Backoff(base_seconds=0.5, cap_seconds=5)
"""While the database is down the worker receives nothing and probes it every 0.5 ... 5 s
(jittered), so an outage of any length costs no message a receive, and work resumes within
seconds of the database answering again."""


@dataclass(frozen=True)
class Queue:
    """An SQS queue fed by one route, with its dead-letter queue."""

    key: str
    """Short name; the queue is ``{prefix}-{key}`` and its DLQ ``{prefix}-{key}-dlq``."""
    url_env_var: str
    """The config-contract variable that carries this queue's URL to the services."""
    consumer: str
    """The consumer name recorded in ``processed_events`` for deduplication."""
    max_receive_count: int = 10
    """Receives before SQS moves a message to the DLQ. Only failures of the message itself
    spend them (see ``MESSAGE_RETRY``, and ``time_to_dead_letter``): a dependency outage
    spends none, and a crash of the worker holding it spends one."""
    visibility_timeout_seconds: int = 10
    """How long a received message stays invisible. The worker keeps extending it while the
    message is in its hands, so this only bounds how soon a crashed worker's messages come
    back to the others: seconds, not a minute."""
    retention_seconds: int = 4 * 24 * 3600
    dlq_retention_seconds: int = 14 * 24 * 3600
    """Longer than the source's, so a message that expires in the DLQ has had its chance."""
    receive_wait_seconds: int = 20
    """Long polling."""

    def time_to_dead_letter(self) -> float:
        """Seconds a message that always fails spends before SQS dead-letters it, at most."""
        return sum(MESSAGE_RETRY.delay(n) for n in range(1, self.max_receive_count))

    def name(self, prefix: str) -> str:
        """The queue's name for a resource prefix such as ``order-platform-dev``."""
        return f"{prefix}-{self.key}"

    def dlq_name(self, prefix: str) -> str:
        """The DLQ's name for a resource prefix."""
        return f"{prefix}-{self.key}-dlq"


@dataclass(frozen=True)
class Route:
    """An EventBridge rule that sends some event types to one queue."""

    name: str
    """The rule name suffix: the rule is ``{prefix}-{name}``."""
    event_types: tuple[EventType, ...]
    queue: Queue
    target_max_retry_attempts: int = 185
    target_max_event_age_seconds: int = 24 * 3600
    description: str = field(default="")

    def rule_name(self, prefix: str) -> str:
        """The rule's name for a resource prefix."""
        return f"{prefix}-{self.name}"

    def target_dlq_name(self, prefix: str) -> str:
        """The DLQ for events the rule could not deliver to its target."""
        return f"{prefix}-{self.name}-target-dlq"

    def event_pattern(self) -> dict[str, list[str]]:
        """The EventBridge event pattern, as a JSON-able dict."""
        return {
            "source": sorted({e.source for e in self.event_types}),
            "detail-type": [e.name for e in self.event_types],
        }


STOCK_VALIDATION_QUEUE = Queue(
    key="stock-validation",
    url_env_var="STOCK_VALIDATION_QUEUE_URL",
    consumer="stock-validation",
)
INVENTORY_UPDATE_QUEUE = Queue(
    key="inventory-update",
    url_env_var="INVENTORY_UPDATE_QUEUE_URL",
    consumer="inventory-update",
)
PRODUCT_CACHE_QUEUE = Queue(
    key="product-cache",
    url_env_var="PRODUCT_CACHE_QUEUE_URL",
    consumer="product-cache",
)
"""Catalogue changes, for evicting the read API's product cache. Fed by the outbox like every
other consumer, so an eviction is never lost to a process that died after its commit."""

ROUTES: tuple[Route, ...] = (
    Route(
        name="order-created-to-stock-validation",
        event_types=(ORDER_CREATED,),
        queue=STOCK_VALIDATION_QUEUE,
        description="New orders are checked against stock.",
    ),
    Route(
        name="stock-validated-to-inventory-update",
        event_types=(STOCK_VALIDATED,),
        queue=INVENTORY_UPDATE_QUEUE,
        description="Validated orders get their stock deducted on the writer.",
    ),
    Route(
        name="catalog-changes-to-product-cache",
        event_types=(PRODUCT_CREATED, PRODUCT_RESTOCKED, INVENTORY_UPDATED),
        queue=PRODUCT_CACHE_QUEUE,
        description="Every change of a product evicts it from the product cache.",
    ),
)

QUEUES: tuple[Queue, ...] = tuple(r.queue for r in ROUTES)


def bus_name(prefix: str) -> str:
    """The custom bus name for a resource prefix."""
    return f"{prefix}-{BUS_BASE_NAME}"


def route_for_queue(queue: Queue) -> Route:
    """The single route that feeds ``queue``."""
    return next(r for r in ROUTES if r.queue == queue)
