"""The worker's composition root: pools, SQS clients and one consumer per topology queue."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from order_platform import logs, topology
from order_platform.adapters import aws
from order_platform.adapters.credentials import SecretsManagerCredentials
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
from order_platform.config import Settings
from order_platform.entrypoints.crash_hook import crash_hook
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
        for db in self.databases:
            db.close()
        return polls_done and drained


def build_worker(settings: Settings) -> Worker:
    """Wire pools, clients and consumers from settings; connects nothing yet."""
    credentials = SecretsManagerCredentials(aws.client("secretsmanager", settings),
                                            settings.db_secret_arn)
    # Each handler holds at most one connection per pool at a time; +1 for the probes.
    pool_size = max(settings.db_pool_max, settings.worker_concurrency + 1)
    writer = Database(host=settings.db_writer_endpoint, port=settings.db_port,
                      dbname=settings.db_name, credentials=credentials,
                      max_connections=pool_size, application_name="order-worker")
    reader = Database(host=settings.db_reader_endpoint, port=settings.db_port,
                      dbname=settings.db_name, credentials=credentials,
                      max_connections=pool_size, readonly=True,
                      application_name="order-worker-reader")
    pool = HandlerPool(settings.worker_concurrency)
    extender = VisibilityExtender()
    after_commit = crash_hook("worker.after_commit")
    consumers = []
    for queue, handler in event_handlers(writer, reader).items():
        sqs = SqsQueue(aws.client("sqs", settings), settings.queue_url(queue.url_env_var))
        consumers.append(QueueConsumer(
            queue=sqs, handle=message_handler(queue, handler), pool=pool, extender=extender,
            wait_seconds=settings.worker_poll_wait_seconds, after_commit=after_commit))
    return Worker(consumers=consumers, pool=pool, extender=extender,
                  databases=[writer, reader])
