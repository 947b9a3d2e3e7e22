"""SQS consumer plumbing on the moto server: delete after commit, dedupe, poison, visibility."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from order_platform import topology
from order_platform.adapters.queues import (
    HandlerPool,
    PoisonMessage,
    QueueConsumer,
    SqsQueue,
    VisibilityExtender,
    decode_event,
)
from order_platform.entrypoints.worker.bootstrap import event_handlers, message_handler
from order_platform.service_layer import stock
from tests.integration.pipeline.harness import wait_until

INVENTORY = topology.INVENTORY_UPDATE_QUEUE
VALIDATION = topology.STOCK_VALIDATION_QUEUE


class RunningConsumer:
    """A QueueConsumer on its own pool and thread, like one worker process."""

    def __init__(self, pipeline, queue: topology.Queue, handle, concurrency: int = 4,
                 **kwargs):
        self.stop = threading.Event()
        self.extender = VisibilityExtender(tick=0.2).start()
        self.pool = HandlerPool(concurrency)
        self.consumer = QueueConsumer(queue=SqsQueue(pipeline.sqs(), pipeline.queue_url(queue)),
                                      handle=handle, pool=self.pool, extender=self.extender,
                                      wait_seconds=1, **kwargs)
        self.thread = threading.Thread(target=self.consumer.run, args=(self.stop,))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(15)
        assert self.pool.drain(15)
        self.extender.stop()
        assert not self.thread.is_alive()


def _validated_order(pipeline, stock_units: int, quantity: int) -> tuple[str, str, dict]:
    product = pipeline.add_product(stock=stock_units)
    order_id = pipeline.place_order([(product, quantity)])
    writer = pipeline.database(size=2)
    created = pipeline.outbox("OrderCreated")[-1]
    stock.validate_order_stock(writer, writer, str(created["event_id"]), created["detail"])
    return product, order_id, pipeline.outbox("StockValidated")[-1]


@pytest.mark.parametrize(("body", "why"), [
    ("{not json", "not JSON"),
    ('["a list"]', "envelope"),
    (json.dumps({"detail-type": "Nonsense", "detail": {"event_id": str(uuid.uuid4())}}),
     "not handled"),
    (json.dumps({"detail-type": "StockValidated", "detail": {"order_id": "x"}}), "event_id"),
])
def test_unusable_bodies_are_poison(body, why):
    with pytest.raises(PoisonMessage, match=why):
        decode_event(body, frozenset({"StockValidated"}))


def test_an_eventbridge_envelope_decodes_with_its_stable_event_id():
    event_id = str(uuid.uuid4())
    event = decode_event(json.dumps({"id": "env-1", "detail-type": "StockValidated",
                                     "source": "s", "detail": {"event_id": event_id}}),
                         frozenset({"StockValidated"}))
    assert (event.event_id, event.envelope_id) == (event_id, "env-1")


def test_same_message_many_times_to_two_workers_at_once_is_applied_once(pipeline):
    product, order_id, validated = _validated_order(pipeline, stock_units=10, quantity=4)
    url = pipeline.queue_url(INVENTORY)
    sqs = pipeline.sqs()
    for _ in range(6):  # EventBridge retries get new envelope ids; the event_id stays
        sqs.send_message(QueueUrl=url, MessageBody=pipeline.envelope(validated))
    handlers = [message_handler(INVENTORY, event_handlers(pipeline.database(),
                                                          pipeline.database())[INVENTORY])
                for _ in range(2)]

    with RunningConsumer(pipeline, INVENTORY, handlers[0]), \
            RunningConsumer(pipeline, INVENTORY, handlers[1]):
        wait_until(lambda: pipeline.depth(url) == (0, 0), timeout=30,
                   what="all six copies deleted")

    assert pipeline.stock(product) == 6
    assert pipeline.history(order_id) == ["PENDING", "STOCK_VALIDATED", "CONFIRMED"]
    assert pipeline.processed(stock.INVENTORY_CONSUMER) == [str(validated["event_id"])]
    assert len(pipeline.outbox("InventoryUpdated")) == 1


def test_message_is_deleted_only_after_the_handler_committed(pipeline):
    url = pipeline.queue_url(VALIDATION)
    pipeline.sqs().send_message(QueueUrl=url, MessageBody="{}")
    attempts = []

    def flaky(message):
        attempts.append(message.receive_count)
        if len(attempts) == 1:
            raise RuntimeError("database went away")

    with RunningConsumer(pipeline, VALIDATION, flaky):
        # The failure leaves the message; it comes back after a 2^1 s backoff and succeeds.
        wait_until(lambda: pipeline.depth(url) == (0, 0), timeout=30, what="message deleted")
    assert attempts == [1, 2]


def test_poison_and_always_failing_messages_reach_the_dlq_after_max_receives(pipeline):
    url, dlq = pipeline.queue_url(VALIDATION), pipeline.queue_url(VALIDATION, "dlq")
    sqs = pipeline.sqs()
    sqs.send_message(QueueUrl=url, MessageBody="{broken json")
    # A well-formed OrderCreated for an order the writer does not have: fails every time.
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({
        "id": "e", "detail-type": "OrderCreated", "source": topology.ORDERS_SOURCE,
        "detail": {"event_id": str(uuid.uuid4()), "order_id": str(uuid.uuid4()),
                   "lines": [{"product_id": str(uuid.uuid4()), "quantity": 1}]}}))
    handle = message_handler(VALIDATION, event_handlers(pipeline.database(),
                                                        pipeline.database())[VALIDATION])

    with RunningConsumer(pipeline, VALIDATION, handle, failure_backoff_cap=1):
        wait_until(lambda: pipeline.depth(dlq)[0] == 2, timeout=60, what="both in the DLQ")
        assert pipeline.depth(url) == (0, 0)

    bodies = sorted(m["Body"][:12] for m in sqs.receive_message(
        QueueUrl=dlq, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"],
        WaitTimeSeconds=1)["Messages"])
    assert bodies[1] == "{broken json"
    assert pipeline.processed(stock.VALIDATION_CONSUMER) == []


def test_visibility_is_extended_while_a_slow_handler_runs(pipeline):
    url = pipeline.queue_url(VALIDATION)
    sqs = pipeline.sqs()
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "2"})
    sqs.send_message(QueueUrl=url, MessageBody="slow")
    started, finish = threading.Event(), threading.Event()

    def slow(message):
        started.set()
        assert finish.wait(20)

    with RunningConsumer(pipeline, VALIDATION, slow):
        assert started.wait(20)
        # Three visibility timeouts later, nobody else could have received it.
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            stolen = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
            assert stolen == [], "the message became visible while its handler ran"
        finish.set()
        wait_until(lambda: pipeline.depth(url) == (0, 0), timeout=20, what="deleted")
