"""The event bus and the queues: events per order from the topology, SQS requests from the
consumers' batches."""

from __future__ import annotations

from collections.abc import Iterator

from cost import assumptions as assume
from cost.context import Context
from cost.lines import Line
from cost.rules import rule
from cost.traffic import per_order_events, sqs_requests_per_second
from infra.simulation import SimulatedResource
from order_platform.topology import ROUTES

KARPENTER_WAIT_SECONDS = 20
"""Karpenter's controller (its leader) long-polls the interruption queue for 20 s at a time."""


@rule("aws:sqs/queue:Queue")
def _queue(r: SimulatedResource, c: Context) -> Iterator[Line]:
    name = r.inputs.get("name", r.name)
    if name.endswith("karpenter-interruption"):
        per_second = sqs_requests_per_second(0.0, 1, KARPENTER_WAIT_SECONDS)
        what = "SQS long polls (Karpenter)"
    else:
        routes = [route for route in ROUTES if route.queue.name(c.config.prefix) == name]
        if not routes:
            return  # a dead-letter queue: nothing is sent, received or deleted routinely
        messages = sum(c.traffic.route_messages(route) for route in routes)
        consumers = c.consumers(name)
        per_second = sqs_requests_per_second(messages / assume.SECONDS_PER_MONTH, consumers,
                                             routes[0].queue.receive_wait_seconds)
        what = f"SQS requests ({messages / 1e6:,.1f} M messages, {consumers} consumers)"
    yield c.line(r, what, per_second * assume.SECONDS_PER_MONTH / 1e6, "million",
                 "sqs:request-million")


@rule("aws:cloudwatch/eventBus:EventBus")
def _bus(r: SimulatedResource, c: Context) -> Iterator[Line]:
    each = len(per_order_events())
    yield c.line(r, f"custom events put on the bus ({each} per order, and admin)",
                 c.traffic.events / 1e6, "million", "events:custom-event-million")
