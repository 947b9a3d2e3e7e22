"""The worker's wiring: SQS clients and one consumer per topology queue, on the runtime's pools."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from botocore.config import Config

from order_platform import bootstrap, logs, telemetry, topology
from order_platform.adapters import cache as cache_adapter
from order_platform.adapters import tracing
from order_platform.adapters.cache import Cache
from order_platform.adapters.consumer import QueueConsumer
from order_platform.adapters.db import Database
from order_platform.adapters.handler_pool import HandlerPool
from order_platform.adapters.leases import Leases
from order_platform.adapters.metrics import Instruments
from order_platform.adapters.outage import DependencyGate, Failure, classify
from order_platform.adapters.queues import DeliveredEvent, ReceivedMessage, SqsQueue, decode_event
from order_platform.bootstrap import Runtime
from order_platform.entrypoints.worker.metrics import (
    QueueMetrics,
    extensions_counter,
    paused_gauge,
)
from order_platform.processes import Endpoint
from order_platform.service_layer import product_cache, stock

log = logging.getLogger(__name__)

RECEIVE_CONFIG = Config(retries={"total_max_attempts": 3, "mode": "standard"},
                        connect_timeout=3, read_timeout=25)
"""Past the 20 s long poll; a hung SQS endpoint costs a receive 25 s, not boto's 60."""
CONTROL_CONFIG = Config(retries={"total_max_attempts": 3, "mode": "standard"},
                        connect_timeout=3, read_timeout=5)
"""Deletes and visibility changes."""

EventHandler = Callable[[DeliveredEvent], StrEnum]
"""Handles one event; returns what it did (logged as its outcome)."""


def event_handlers(writer: Database | None, reader: Database | None,
                   cache: Cache | None = None) -> dict[topology.Queue, EventHandler]:
    """Which service-layer function handles the events of each queue: the stock consumers
    with a unit of work of their own on ``writer`` per event, and the read model on
    ``reader`` (None only where those queues' handlers are never called)."""
    writes = None if writer is None else bootstrap.storage(writer)
    reads = None if reader is None else bootstrap.storage(reader).reads

    def validate(event: DeliveredEvent) -> StrEnum:
        if writes is None or reads is None:
            raise RuntimeError("stock validation needs the writer and the reader")
        return stock.validate_stock(writes.unit_of_work(), reads, event.event_id, event.detail)

    def deduct(event: DeliveredEvent) -> StrEnum:
        if writes is None:
            raise RuntimeError("the inventory update needs the writer")
        return stock.deduct_stock(writes.unit_of_work(), event.event_id, event.detail)

    return {
        topology.STOCK_VALIDATION_QUEUE: validate,
        topology.INVENTORY_UPDATE_QUEUE: deduct,
        # With no cache in the stack the queue still exists (it is in the topology) and is
        # drained: each message is acknowledged without effect, so nothing piles up there
        # and the queue's age alarm stays quiet.
        topology.PRODUCT_CACHE_QUEUE:
            lambda e: product_cache.evict_for_event(cache, e.detail_type, e.detail),
    }


def dependency_gates(writer: Database,
                     cache: Cache | None) -> dict[topology.Queue, DependencyGate]:
    """What each queue's consumer waits for while a dependency is down: the writer, except
    the product-cache consumer, which never touches the database and waits for the cache.
    A cache outage thus holds the evictions (spending no receive, losing none) and nothing
    else; a database outage does not hold them."""
    # Only the writer decides: a reader outage is handled by checking on the writer.
    writer_gate = DependencyGate(writer.ping, topology.DEPENDENCY_PROBE)
    gates = dict.fromkeys(topology.QUEUES, writer_gate)
    gates[topology.PRODUCT_CACHE_QUEUE] = (
        DependencyGate(cache.ping, topology.DEPENDENCY_PROBE) if cache is not None
        else DependencyGate.unguarded())
    return gates


SETTLING = frozenset({stock.Outcome.CONFIRMED, stock.Outcome.REJECTED})
"""Outcomes that give an order its final status."""


def message_handler(queue: topology.Queue, handler: EventHandler,
                    metrics: QueueMetrics | None = None, traces: tracing.Tracing | None = None,
                    ) -> Callable[[ReceivedMessage], object]:
    """Decode one SQS message of ``queue`` and run ``handler`` with ids in the log context,
    inside the span that continues the event's trace; return the handler's outcome.
    ``metrics`` defaults to instruments of their own (tests that do not look at them)."""
    metrics = metrics or QueueMetrics(Instruments(telemetry.WORKER_METRICS), queue.key)
    accepted = frozenset(e.name for e in topology.route_for_queue(queue).event_types)

    def handle(message: ReceivedMessage) -> object:
        event = decode_event(message.body, accepted)
        metrics.event_age(event.detail.get(topology.ENVELOPE_FIELDS[1]))
        event_token = logs.event_id.set(event.event_id)
        order_id = event.detail.get("order_id")  # catalogue events concern no order
        order_token = logs.order_id.set(None if order_id is None else str(order_id))
        try:
            with tracing.consuming(traces, queue.key, event.detail, event.detail_type):
                outcome = handler(event)
            logs.info(log, "event handled", {
                "consumer": queue.consumer, "detail_type": event.detail_type,
                "outcome": str(outcome), "receive_count": message.receive_count})
        finally:
            logs.order_id.reset(order_token)
            logs.event_id.reset(event_token)
        if outcome in SETTLING:
            metrics.settled(outcome.value, stock.placed_at(event.detail_type, event.detail))
        return outcome

    return handle


@dataclass
class Worker:
    """The running consumers of one process and what they share."""

    consumers: list[QueueConsumer]
    pool: HandlerPool
    leases: Leases
    gate: DependencyGate
    writer: Database
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        """Start the leases and one polling thread per queue."""
        self.leases.start()
        for consumer in self.consumers:
            # Daemon: a long poll in progress must not keep a finished process alive.
            thread = threading.Thread(target=consumer.run, args=(self.stop,), daemon=True,
                                      name=f"poll-{consumer.queue.url.rsplit('/', 1)[-1]}")
            thread.start()
            self.threads.append(thread)

    def alive(self) -> bool:
        """Liveness: every polling thread runs (or we are stopping on purpose). A database
        outage is not a reason to restart the pod: the gate is waiting it out."""
        return self.stop.is_set() or all(t.is_alive() for t in self.threads)

    def ready(self) -> bool:
        """Readiness: not stopping, not paused by an outage, and the writer answers now (a
        failed check also pauses the work, before a message meets the outage)."""
        if self.stop.is_set() or not self.gate.closed:
            return False
        try:
            self.writer.ping()
        except Exception as exc:
            if classify(exc) is not Failure.DEPENDENCY:
                raise
            self.gate.trip(exc)
            return False
        return True

    def shutdown(self, grace_seconds: float) -> bool:
        """Stop polling, let in-flight messages finish; True if all finished in time."""
        self.stop.set()
        deadline = time.monotonic() + grace_seconds
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        polls_done = not any(t.is_alive() for t in self.threads)
        drained = self.pool.drain(max(0.0, deadline - time.monotonic()))
        self.leases.stop()  # acknowledges what finished
        return polls_done and drained


def build_worker(runtime: Runtime, *,
                 after_commit: Callable[[ReceivedMessage], None] | None = None) -> Worker:
    """Wire consumers from a started runtime; connects nothing yet.

    ``after_commit`` runs between a handler's commit and the message's acknowledgement:
    the crash tests inject a hard exit there.
    """
    settings = runtime.settings
    writer, reader = runtime.database(Endpoint.WRITER), runtime.database(Endpoint.READER)
    pool = HandlerPool(settings.worker_concurrency)
    leases = Leases(on_extended=extensions_counter(runtime.metrics))
    cache = cache_adapter.from_settings(settings)
    gates = dependency_gates(writer, cache)
    gate = gates[topology.STOCK_VALIDATION_QUEUE]  # the writer's: readiness follows it
    paused_gauge(runtime.metrics, lambda: not gate.closed)
    sqs = runtime.client("sqs", config=RECEIVE_CONFIG)
    control = runtime.client("sqs", config=CONTROL_CONFIG)
    consumers = []
    for queue, handler in event_handlers(writer, reader, cache).items():
        metrics = QueueMetrics(runtime.metrics, queue.key)
        consumers.append(QueueConsumer(
            queue=SqsQueue(sqs, settings.queue_url(queue.url_env_var), control_client=control),
            handle=message_handler(queue, handler, metrics, runtime.tracing), pool=pool,
            leases=leases, gate=gates[queue], watch=metrics,
            wait_seconds=settings.worker_poll_wait_seconds,
            after_commit=after_commit or (lambda message: None)))
    return Worker(consumers=consumers, pool=pool, leases=leases, gate=gate, writer=writer)
