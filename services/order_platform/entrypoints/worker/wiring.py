"""The worker's wiring: SQS clients and one consumer per topology queue, on the runtime's pools."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from order_platform import logs, topology
from order_platform.adapters.db import Database
from order_platform.adapters.queues import (
    DeliveredEvent,
    HandlerPool,
    QueueConsumer,
    ReceivedMessage,
    SqsQueue,
    VisibilityExtender,
    decode_event,
)
from order_platform.bootstrap import Runtime
from order_platform.processes import Endpoint
from order_platform.service_layer import stock

log = logging.getLogger(__name__)

EventHandler = Callable[[DeliveredEvent], stock.Outcome]


def event_handlers(writer: Database, reader: Database) -> dict[topology.Queue, EventHandler]:
    """Which service-layer function handles the events of each queue."""
    return {
        topology.STOCK_VALIDATION_QUEUE:
            lambda e: stock.validate_order_stock(writer, reader, e.event_id, e.detail),
        topology.INVENTORY_UPDATE_QUEUE:
            lambda e: stock.update_inventory(writer, e.event_id, e.detail),
    }


def message_handler(queue: topology.Queue,
                    handler: EventHandler) -> Callable[[ReceivedMessage], None]:
    """Decode one SQS message of ``queue`` and run ``handler`` with ids in the log context."""
    accepted = frozenset(e.name for e in topology.route_for_queue(queue).event_types)

    def handle(message: ReceivedMessage) -> None:
        event = decode_event(message.body, accepted)
        event_token = logs.event_id.set(event.event_id)
        order_token = logs.order_id.set(str(event.detail.get("order_id")))
        try:
            outcome = handler(event)
            log.info("event handled", extra={
                "consumer": queue.consumer, "detail_type": event.detail_type,
                "outcome": outcome.value, "receive_count": message.receive_count})
        finally:
            logs.order_id.reset(order_token)
            logs.event_id.reset(event_token)

    return handle


@dataclass
class Worker:
    """The running consumers of one process and what they share."""

    consumers: list[QueueConsumer]
    pool: HandlerPool
    extender: VisibilityExtender
    databases: list[Database]
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        """Start the visibility extender and one polling thread per queue."""
        self.extender.start()
        for consumer in self.consumers:
            # Daemon: a long poll in progress must not keep a finished process alive.
            thread = threading.Thread(target=consumer.run, args=(self.stop,), daemon=True,
                                      name=f"poll-{consumer.queue.url.rsplit('/', 1)[-1]}")
            thread.start()
            self.threads.append(thread)

    def alive(self) -> bool:
        """Liveness: every polling thread runs (or we are stopping on purpose)."""
        return self.stop.is_set() or all(t.is_alive() for t in self.threads)

    def ready(self) -> bool:
        """Readiness: not stopping, and the databases answer."""
        if self.stop.is_set():
            return False
        for db in self.databases:
            db.ping()
        return True

    def shutdown(self, grace_seconds: float) -> bool:
        """Stop polling, let in-flight messages finish; True if all finished in time."""
        self.stop.set()
        deadline = time.monotonic() + grace_seconds
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        polls_done = not any(t.is_alive() for t in self.threads)
        drained = self.pool.drain(max(0.0, deadline - time.monotonic()))
        self.extender.stop()
        return polls_done and drained


def build_worker(runtime: Runtime, *,
                 after_commit: Callable[[ReceivedMessage], None] | None = None) -> Worker:
    """Wire consumers from a started runtime; connects nothing yet.

    ``after_commit`` runs between a handler's commit and the message's delete: the crash
    tests inject a hard exit there.
    """
    settings = runtime.settings
    writer, reader = runtime.database(Endpoint.WRITER), runtime.database(Endpoint.READER)
    pool = HandlerPool(settings.worker_concurrency)
    extender = VisibilityExtender()
    consumers = []
    for queue, handler in event_handlers(writer, reader).items():
        sqs = SqsQueue(runtime.client("sqs"), settings.queue_url(queue.url_env_var))
        consumers.append(QueueConsumer(
            queue=sqs, handle=message_handler(queue, handler), pool=pool, extender=extender,
            wait_seconds=settings.worker_poll_wait_seconds,
            after_commit=after_commit or (lambda message: None)))
    return Worker(consumers=consumers, pool=pool, extender=extender,
                  databases=[writer, reader])
