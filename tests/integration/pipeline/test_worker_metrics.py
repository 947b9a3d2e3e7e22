"""The worker's metrics for what a happy run never shows: messages held through an outage,
leases renewed meanwhile, the pause itself, and messages that failed."""

from __future__ import annotations

import threading

from order_platform import telemetry as t
from order_platform import topology
from order_platform.adapters.consumer import QueueConsumer
from order_platform.adapters.handler_pool import HandlerPool
from order_platform.adapters.leases import Leases
from order_platform.adapters.metrics import Instruments
from order_platform.adapters.outage import DependencyGate
from order_platform.adapters.queues import PoisonMessage, SqsQueue
from order_platform.entrypoints.worker.metrics import (
    QueueMetrics,
    extensions_counter,
    paused_gauge,
)
from order_platform.topology import Backoff
from tests.integration.pipeline.harness import wait_until
from tests.integration.pipeline.test_consumers import FlakyDatabase
from tests.support.scrape import parse, value

QUEUE = topology.STOCK_VALIDATION_QUEUE


def test_held_failed_paused_and_renewed_are_counted(pipeline):
    url = pipeline.queue_url(QUEUE)
    pipeline.set_visibility_timeout(2)  # leases renewed every second while held
    instruments = Instruments(t.WORKER_METRICS)
    metrics = QueueMetrics(instruments, QUEUE.key)
    database = FlakyDatabase()
    gate = DependencyGate(database.ping, Backoff(0.05, 0.2), verified=True)
    paused_gauge(instruments, lambda: not gate.closed)
    leases = Leases(tick=0.1, on_extended=extensions_counter(instruments)).start()
    pool, stop = HandlerPool(2), threading.Event()

    def handle(message):
        if message.body == "poison":
            raise PoisonMessage("unusable")
        database.ping()
        return "STOCK_VALIDATED"

    consumer = QueueConsumer(queue=SqsQueue(pipeline.sqs(), url), handle=handle, pool=pool,
                             leases=leases, gate=gate, wait_seconds=1, watch=metrics)
    thread = threading.Thread(target=consumer.run, args=(stop,))
    thread.start()

    def seen(name: str, **labels: str) -> float:
        return value(parse(instruments.exposition()[0].decode()), name, **labels)

    try:
        pipeline.sqs().send_message(QueueUrl=url, MessageBody="during an outage")
        wait_until(lambda: seen(t.MESSAGES_HANDLED.name, outcome="held") == 1, timeout=20,
                   what="the message held")
        assert seen(t.DEPENDENCY_PAUSED.name) == 1
        wait_until(lambda: seen(t.VISIBILITY_EXTENSIONS.name) >= 2, timeout=20,
                   what="its lease renewed while held")
        database.up.set()
        wait_until(lambda: seen(t.MESSAGES_HANDLED.name, outcome="stock_validated") == 1,
                   timeout=30, what="handled once the database answers")
        assert seen(t.DEPENDENCY_PAUSED.name) == 0
        pipeline.sqs().send_message(QueueUrl=url, MessageBody="poison")
        wait_until(lambda: seen(t.MESSAGES_HANDLED.name, outcome="failed") >= 1, timeout=20,
                   what="the poison message counted as failed")
    finally:
        stop.set()
        thread.join(15)
        pool.drain(15)
        leases.stop()
    assert seen(t.MESSAGES_RECEIVED.name, queue=QUEUE.key) >= 2
    assert seen(f"{t.HANDLER_DURATION.name}_count", queue=QUEUE.key) >= 3
