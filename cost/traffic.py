"""Monthly volumes at the stack's ``ordersPerSecond``, from the topology and the consumers.

Per order: the events the topology carries with an order id (admin events are not per order),
the messages each route delivers, and the SQS requests the worker makes for them with the batch
sizes and lingers its consumers use (``order_platform.adapters.consumer`` and ``.leases``).
"""

from __future__ import annotations

from dataclasses import dataclass

from cost import assumptions as assume
from order_platform.adapters.consumer import RECEIVE_LINGER
from order_platform.adapters.leases import ACK_LINGER
from order_platform.adapters.queues import MAX_BATCH
from order_platform.topology import ROUTES, EventType, Route

ORDER_FIELD = "order_id"


def per_order_events() -> tuple[EventType, ...]:
    """What one confirmed order puts on the bus: the routed event types that carry an order id
    (OrderCreated, StockValidated, InventoryUpdated; a rejection is not routed)."""
    routed = {e.name: e for route in ROUTES for e in route.event_types}
    return tuple(e for e in routed.values() if ORDER_FIELD in e.detail_fields)


def sqs_requests_per_second(messages_per_second: float, consumers: int,
                            wait_seconds: int) -> float:
    """SendMessage (EventBridge), ReceiveMessage and DeleteMessageBatch on one queue.

    Each consumer receives again ``RECEIVE_LINGER`` after a partial batch, so a receive carries
    what arrived meanwhile (at least one, at most ``MAX_BATCH``); it acknowledges in batches every
    ``ACK_LINGER``; idle, it long-polls once per ``wait_seconds``.
    """
    if consumers == 0:
        return messages_per_second
    rate = messages_per_second / consumers
    per_receive = min(MAX_BATCH, max(1.0, rate * RECEIVE_LINGER))
    per_delete = min(MAX_BATCH, max(1.0, rate * ACK_LINGER))
    receives = max(rate / per_receive, 1 / wait_seconds)
    return messages_per_second + consumers * (receives + rate / per_delete)


@dataclass(frozen=True)
class Traffic:
    """Monthly volumes that follow from the stack's ordersPerSecond."""

    orders_per_second: int

    @property
    def orders(self) -> float:
        """Orders in a month."""
        return self.orders_per_second * assume.SECONDS_PER_MONTH

    @property
    def database_gb(self) -> float:
        """Aurora's volume after a month of orders."""
        return assume.DB_BASE_GB + self.orders * assume.DB_BYTES_PER_ORDER / 1e9

    @property
    def events(self) -> float:
        """Events put on the bus: each order's, and the catalogue's admin events."""
        return self.orders * len(per_order_events()) + assume.ADMIN_EVENTS_PER_MONTH

    def route_messages(self, route: Route) -> float:
        """Messages ``route`` delivers to its queue in a month."""
        per_order = {e.name for e in per_order_events()}
        ordered = sum(e.name in per_order for e in route.event_types)
        admin = sum(e.name not in per_order for e in route.event_types)
        admin_share = admin / max(1, sum(ORDER_FIELD not in e.detail_fields
                                         for r in ROUTES for e in r.event_types))
        return self.orders * ordered + assume.ADMIN_EVENTS_PER_MONTH * admin_share

    @property
    def messages(self) -> float:
        """Messages every route delivers in a month, together."""
        return sum(self.route_messages(route) for route in ROUTES)

    @property
    def requests(self) -> float:
        """HTTP requests through the load balancer in a month."""
        return self.orders * assume.REQUESTS_PER_ORDER
