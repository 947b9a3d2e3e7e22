"""SQS consumer plumbing on the moto server: delete after commit, dedupe, poison, visibility."""

from __future__ import annotations

import json
import threading
import time
import uuid

import psycopg2
import psycopg2.errors
import pytest

from order_platform import topology
from order_platform.adapters.consumer import QueueConsumer
from order_platform.adapters.credentials import CredentialsError
from order_platform.adapters.deadlines import DeadlineExceeded
from order_platform.adapters.handler_pool import HandlerPool
from order_platform.adapters.leases import Leases
from order_platform.adapters.outage import DependencyGate, Failure, classify
from order_platform.adapters.pool import PoolExhausted
from order_platform.adapters.queues import PoisonMessage, SqsQueue, decode_event
from order_platform.domain.stock import OrderMissing
from order_platform.entrypoints.worker.wiring import event_handlers, message_handler
from order_platform.service_layer import stock
from order_platform.topology import Backoff
from tests.integration.pipeline.harness import (
    validate_order_stock,
    wait_until,
)

INVENTORY = topology.INVENTORY_UPDATE_QUEUE
VALIDATION = topology.STOCK_VALIDATION_QUEUE


class RunningConsumer:
    """A QueueConsumer on its own pool and thread, like one worker process."""

    def __init__(self, pipeline, queue: topology.Queue, handle, *, concurrency: int = 4,
                 sqs_queue: SqsQueue | None = None, wait_seconds: int = 1, **kwargs):
        self.stop = threading.Event()
        self.leases = Leases(tick=0.2).start()
        self.pool = HandlerPool(concurrency)
        self.consumer = QueueConsumer(
            queue=sqs_queue or SqsQueue(pipeline.sqs(), pipeline.queue_url(queue)),
            handle=handle, pool=self.pool, leases=self.leases, wait_seconds=wait_seconds,
            **kwargs)
        self.thread = threading.Thread(target=self.consumer.run, args=(self.stop,))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(15)
        assert self.pool.drain(15)
        self.leases.stop()
        assert not self.thread.is_alive()


def _validated_order(pipeline, stock_units: int, quantity: int) -> tuple[str, str, dict]:
    product = pipeline.add_product(stock=stock_units)
    order_id = pipeline.place_order([(product, quantity)])
    writer = pipeline.database(size=2)
    created = pipeline.outbox("OrderCreated")[-1]
    validate_order_stock(writer, writer, str(created["event_id"]), created["detail"])
    return product, order_id, pipeline.outbox("StockValidated")[-1]


# Literal ids, not uuid4(): every pytest-xdist worker must collect the same test ids.
@pytest.mark.parametrize(("body", "why"), [
    ("{not json", "not JSON"),
    ('["a list"]', "envelope"),
    (json.dumps({"detail-type": "Nonsense",
                 "detail": {"event_id": "7a1c4e9b-3f2d-4b8a-9e6c-5d0f1a2b3c4d"}}), "not handled"),
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


class ObservedQueue(SqsQueue):
    """The real queue, signalling when a long poll starts."""

    def __init__(self, *args):
        super().__init__(*args)
        self.polling = threading.Event()

    def receive(self, max_messages, wait_seconds):
        self.polling.set()
        return super().receive(max_messages, wait_seconds)


def test_one_event_at_two_workers_at_the_same_moment_is_applied_once(pipeline, pg_server):
    """Two copies, one per worker, both inside their transactions at once: one effect."""
    product, order_id, validated = _validated_order(pipeline, stock_units=10, quantity=4)
    url = pipeline.queue_url(INVENTORY)
    for _ in range(2):
        pipeline.sqs().send_message(QueueUrl=url, MessageBody=pipeline.envelope(validated))
    outcomes: list[tuple[str, stock.Outcome]] = []

    def worker_handler(name):
        writer = pipeline.database(size=2, application_name=name)
        apply = event_handlers(writer, writer)[INVENTORY]

        def recording(event):
            outcome = apply(event)
            outcomes.append((name, outcome))
            return outcome
        return message_handler(INVENTORY, recording)

    def blocked_workers() -> set[str]:
        return {r["application_name"] for r in pipeline.query(
            "SELECT application_name FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'")}

    # Hold the order's row lock: the first delivery claims its dedupe row and then waits
    # for the order; the second waits on the first's uncommitted dedupe row.
    holder = psycopg2.connect(**pg_server.superuser_dsn(pipeline.settings.db_name))
    with holder.cursor() as cur:
        cur.execute("SELECT id FROM orders WHERE id = %s FOR UPDATE", (order_id,))
    # One slot and one message per receive: each worker takes exactly one copy.
    with RunningConsumer(pipeline, INVENTORY, worker_handler("worker-a"), concurrency=1,
                         batch_size=1), \
            RunningConsumer(pipeline, INVENTORY, worker_handler("worker-b"), concurrency=1,
                            batch_size=1):
        try:
            wait_until(lambda: blocked_workers() == {"worker-a", "worker-b"}, timeout=30,
                       what="both workers blocked inside their transactions at once")
        finally:
            holder.commit()
            holder.close()
        wait_until(lambda: pipeline.depth(url) == (0, 0), timeout=30, what="both deleted")

    assert sorted(outcome for _, outcome in outcomes) == [stock.Outcome.CONFIRMED,
                                                          stock.Outcome.DUPLICATE]
    assert {name for name, _ in outcomes} == {"worker-a", "worker-b"}
    assert pipeline.stock(product) == 6
    assert pipeline.history(order_id) == ["PENDING", "STOCK_VALIDATED", "CONFIRMED"]
    assert pipeline.processed(stock.INVENTORY_CONSUMER) == [str(validated["event_id"])]
    assert len(pipeline.outbox("InventoryUpdated")) == 1


def test_message_is_deleted_only_after_the_handler_committed(pipeline):
    url = pipeline.queue_url(VALIDATION)
    pipeline.sqs().send_message(QueueUrl=url, MessageBody="{}")
    attempts, seen_while_handling = [], []

    def flaky(message):
        attempts.append(message.receive_count)
        # While the handler runs, the message is in flight, not deleted.
        seen_while_handling.append(pipeline.depth(url))
        if len(attempts) == 1:
            raise RuntimeError("database went away")

    with RunningConsumer(pipeline, VALIDATION, flaky):
        # The failure leaves the message; it comes back after a 2^1 s backoff and succeeds.
        wait_until(lambda: pipeline.depth(url) == (0, 0), timeout=30, what="message deleted")
    assert attempts == [1, 2]
    assert seen_while_handling == [(0, 1), (0, 1)]


def test_stopping_finishes_the_running_handler_and_hands_back_the_rest(pipeline):
    url = pipeline.queue_url(VALIDATION)
    for i in range(3):
        pipeline.sqs().send_message(QueueUrl=url, MessageBody=f"m{i}")
    started, finish = threading.Event(), threading.Event()
    handled = []

    def slow(message):
        started.set()
        assert finish.wait(20)
        handled.append(message.body)

    # One slot and one batch of three: one message runs, two wait for the slot.
    running = RunningConsumer(pipeline, VALIDATION, slow, concurrency=1)
    with running:
        assert started.wait(20)
        wait_until(lambda: pipeline.depth(url) == (0, 3), timeout=10, what="all three received")
        running.stop.set()
        # The two waiting ones go back at once, well before the 60 s visibility timeout.
        wait_until(lambda: pipeline.depth(url) == (2, 1), timeout=10, what="two handed back")
        finish.set()
    assert len(handled) == 1
    assert pipeline.depth(url) == (2, 0), "the running one was deleted after it finished"


def test_a_long_poll_in_progress_at_stop_hands_back_what_it_returns(pipeline):
    url = pipeline.queue_url(VALIDATION)
    queue = ObservedQueue(pipeline.sqs(), url)
    handled = []
    running = RunningConsumer(pipeline, VALIDATION, lambda m: handled.append(m.body),
                              sqs_queue=queue, wait_seconds=20)
    with running:
        assert queue.polling.wait(20)
        running.stop.set()
        # Arrives during the 20 s poll that started before the stop: the poll returns it.
        pipeline.sqs().send_message(QueueUrl=url, MessageBody="late")
        running.thread.join(30)
        assert not running.thread.is_alive(), "the poll did not end"
    assert handled == []
    assert pipeline.depth(url) == (1, 0), "received after the stop, handed back at once"
    (message,) = pipeline.sqs().receive_message(
        QueueUrl=url, MessageSystemAttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "2", "the poll did receive it"


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

    with RunningConsumer(pipeline, VALIDATION, handle, retry=Backoff(1, 1)):
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
    calls = []

    def slow(message):
        calls.append(message.receive_count)
        started.set()
        assert finish.wait(20)

    with RunningConsumer(pipeline, VALIDATION, slow):
        assert started.wait(20)
        # Three visibility timeouts later, nobody else could have received it: neither
        # this test nor the consumer's own next polls (free slots keep polling).
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            stolen = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
            assert stolen == [], "the message became visible while its handler ran"
        finish.set()
        wait_until(lambda: pipeline.depth(url) == (0, 0), timeout=20, what="deleted")
    assert calls == [1], "the message was received again while its handler ran"


class FlakyDatabase:
    """A dependency that is down until ``up`` is set: the handler and the gate's probe fail."""

    def __init__(self) -> None:
        self.up = threading.Event()

    def ping(self) -> None:
        if not self.up.is_set():
            raise psycopg2.OperationalError("connection refused")


def test_a_dependency_outage_holds_the_message_and_spends_no_receive(pipeline):
    url = pipeline.queue_url(VALIDATION)
    pipeline.set_visibility_timeout(2)  # so that a lease that were not renewed would lapse
    pipeline.sqs().send_message(QueueUrl=url, MessageBody="during an outage")
    database = FlakyDatabase()
    gate = DependencyGate(database.ping, Backoff(0.05, 0.2), verified=True)
    attempts = []

    def handler(message):
        attempts.append(message.receive_count)
        database.ping()

    with RunningConsumer(pipeline, VALIDATION, handler, gate=gate):
        wait_until(lambda: attempts and not gate.closed, timeout=20, what="the gate open")
        # Held, not released: invisible to everyone, and never received again meanwhile.
        time.sleep(4)  # two visibility timeouts: the lease must have been renewed
        assert pipeline.depth(url) == (0, 1)
        assert attempts == [1]
        database.up.set()
        wait_until(lambda: pipeline.depth(url) == (0, 0), timeout=30, what="handled, deleted")
    assert gate.closed and gate.trips == 1
    assert attempts == [1, 1], "handled again from the hold, with no second receive"


def test_a_worker_started_during_an_outage_receives_nothing_until_it_ends(pipeline):
    url = pipeline.queue_url(VALIDATION)
    pipeline.sqs().send_message(QueueUrl=url, MessageBody="waiting")
    database = FlakyDatabase()
    gate = DependencyGate(database.ping, Backoff(0.05, 0.2))  # unverified, as at start
    handled = []
    with RunningConsumer(pipeline, VALIDATION, handled.append, gate=gate):
        time.sleep(2)
        assert handled == [] and pipeline.depth(url) == (1, 0), "nothing was received"
        database.up.set()
        wait_until(lambda: pipeline.depth(url) == (0, 0), timeout=30, what="handled")
    assert [m.receive_count for m in handled] == [1]


def test_contention_is_retried_in_place_without_spending_a_receive(pipeline):
    url = pipeline.queue_url(VALIDATION)
    pipeline.sqs().send_message(QueueUrl=url, MessageBody="contended")
    attempts = []

    def contended(message):
        attempts.append(message.receive_count)
        if len(attempts) < 3:
            raise psycopg2.errors.LockNotAvailable("lock timeout")

    with RunningConsumer(pipeline, VALIDATION, contended):
        wait_until(lambda: pipeline.depth(url) == (0, 0), timeout=30, what="handled")
    assert attempts == [1, 1, 1]


@pytest.mark.parametrize(("error", "failure"), [
    (psycopg2.OperationalError("server closed the connection"), Failure.DEPENDENCY),
    (psycopg2.InterfaceError("connection already closed"), Failure.DEPENDENCY),
    (DeadlineExceeded("no answer"), Failure.DEPENDENCY),
    (PoolExhausted("all busy"), Failure.DEPENDENCY),
    (CredentialsError("secret unreadable"), Failure.DEPENDENCY),
    (psycopg2.errors.QueryCanceled("statement timeout"), Failure.CONTENTION),
    (psycopg2.errors.DeadlockDetected("deadlock"), Failure.CONTENTION),
    (PoisonMessage("not json"), Failure.POISON),
    (OrderMissing("o"), Failure.MESSAGE),
    (KeyError("a bug"), Failure.MESSAGE),
])
def test_failures_are_told_apart(error, failure):
    assert classify(error) is failure
