"""Worker and relay processes: poison messages, the DLQ tool, probes and SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import psycopg2
import pytest
import requests

from order_platform import topology
from order_platform.config import CONTRACT
from order_platform.launch import command
from order_platform.processes import DLQ
from order_platform.service_layer import stock
from tests.e2e.pipeline.conftest import log_records, stop
from tests.integration.pipeline.harness import wait_until

pytestmark = pytest.mark.e2e

VALIDATION = topology.STOCK_VALIDATION_QUEUE


def _order_dlq(pipeline, *args: str) -> str:
    done = subprocess.run(command(DLQ, args=args),
                          env={**os.environ, **pipeline.env}, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_poison_message_reaches_the_dlq_and_the_tool_redrives_it(pipeline, services):
    url, dlq = pipeline.queue_url(VALIDATION), pipeline.queue_url(VALIDATION, "dlq")
    pipeline.sqs().send_message(QueueUrl=url, MessageBody="{this is not json")
    worker = services.worker()

    wait_until(lambda: pipeline.depth(dlq)[0] == 1, timeout=60,
               what=f"the poison message in the DLQ after {VALIDATION.max_receive_count} receives")
    assert stop(worker) == 0
    assert pipeline.depth(url) == (0, 0)
    depths = {tuple(line.split()[:2]): int(line.split()[2])
              for line in _order_dlq(pipeline, "depths").splitlines()[1:]}
    assert depths[(VALIDATION.key, "dlq")] == 1
    (peeked,) = [json.loads(x) for x in _order_dlq(pipeline, "peek", VALIDATION.key).split("\n")
                 if x]
    assert peeked["body"] == "{this is not json"
    assert int(peeked["attributes"]["ApproximateReceiveCount"]) >= VALIDATION.max_receive_count

    result = json.loads(_order_dlq(pipeline, "redrive", VALIDATION.key))

    assert result["moved"] == 1
    assert pipeline.depth(dlq) == (0, 0)
    assert pipeline.receive_all_raw(url, expect=1) == ["{this is not json"]


def test_sigterm_lets_the_message_in_flight_finish_and_exits_zero(pipeline, services,
                                                                    pg_server):
    product = pipeline.add_product(stock=5)
    order_id = pipeline.place_order([(product, 1)])
    relay = services.relay()
    # Hold the order's row lock, so the worker's handler blocks mid-transaction.
    holder = psycopg2.connect(**pg_server.superuser_dsn(pipeline.settings.db_name))
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT id FROM orders WHERE id = %s FOR UPDATE", (order_id,))
        worker = services.worker()
        wait_until(lambda: pipeline.query(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'order-worker' AND wait_event_type = 'Lock'")[0]["n"],
            timeout=30, what="the handler blocked on the order lock")
        # No more events from here on: whatever the worker does next is the message in flight.
        assert stop(relay) == 0
        worker.send_signal(signal.SIGTERM)
        wait_until(lambda: requests.get(f"http://127.0.0.1:{worker.port}/readyz",
                                        timeout=5).status_code == 503,
                   timeout=10, what="a stopping worker to report not ready")
        time.sleep(1)  # the handler is still blocked: the process must wait for it
        assert worker.poll() is None, "the worker exited with a message in flight"
    finally:
        holder.commit()
        holder.close()

    assert worker.wait(40) == 0
    assert pipeline.order(order_id)["status"] == "STOCK_VALIDATED"
    assert pipeline.history(order_id) == ["PENDING", "STOCK_VALIDATED"]
    assert len(pipeline.processed(stock.VALIDATION_CONSUMER)) == 1
    # The message was deleted after its commit: nothing is left to redeliver.
    assert pipeline.depth(pipeline.queue_url(VALIDATION)) == (0, 0)


POD_GRACE_SECONDS = 30
"""The pods' terminationGracePeriodSeconds: SIGKILL comes after this."""


def test_sigterm_during_a_default_20s_long_poll_exits_zero_within_the_grace(pipeline,
                                                                            services):
    """The production poll wait: SQS cannot cancel a ReceiveMessage, so the worker waits it
    out (at most 20 s), hands back what it returns, and still exits inside the grace."""
    default_wait = next(s.default for s in CONTRACT if s.env == "WORKER_POLL_WAIT_SECONDS")
    assert default_wait == 20
    product = pipeline.add_product(stock=5)
    order_id = pipeline.place_order([(product, 1)])
    created = pipeline.outbox("OrderCreated")[0]
    url = pipeline.queue_url(VALIDATION)
    worker = services.worker(WORKER_POLL_WAIT_SECONDS=str(default_wait))
    wait_until(lambda: sum(r.get("message") == "polling" for r in log_records(worker))
               == len(topology.QUEUES), timeout=30, what="every queue long-polling")
    # Every queue's 20 s poll is in progress (and nothing arrived yet to end them).
    assert pipeline.depth(url) == (0, 0)

    worker.send_signal(signal.SIGTERM)
    wait_until(lambda: any(r.get("message", "").startswith("signal received")
                           for r in log_records(worker)), timeout=10, what="SIGTERM seen")
    # Arrives after the SIGTERM: only the poll already in progress can take it.
    pipeline.sqs().send_message(QueueUrl=url, MessageBody=pipeline.envelope(created))

    assert worker.wait(POD_GRACE_SECONDS) == 0  # 0 = everything finished in its 25 s budget
    stopped = [r for r in log_records(worker) if r.get("message") == "worker stopped"]
    assert stopped and stopped[0]["clean"] is True
    # Received by the in-progress poll, not started, handed back at once: nothing applied,
    # and the next worker gets it without waiting out the 60 s visibility timeout.
    assert any(r.get("message") == "stopping: unstarted messages handed back"
               for r in log_records(worker))
    assert pipeline.order(order_id)["status"] == "PENDING"
    assert pipeline.processed(stock.VALIDATION_CONSUMER) == []
    assert pipeline.depth(url) == (1, 0)


def test_relay_sigterm_during_an_outage_backoff_exits_zero(pipeline, services):
    product = pipeline.add_product(stock=5)
    pipeline.place_order([(product, 1)])
    # A bus that does not exist: every PutEvents fails as a whole, the relay backs off.
    relay = services.relay(EVENT_BUS_NAME=f"{pipeline.prefix}-missing")
    wait_until(lambda: sum(r.get("message") == "relay cannot publish; backing off"
                           for r in log_records(relay)) >= 3,
               timeout=60, what="the relay backing off")

    assert stop(relay, timeout=POD_GRACE_SECONDS) == 0
    row = pipeline.outbox()[0]
    assert row["published_at"] is None and row["attempts"] == 0, "outages cost no attempts"


def test_relay_serves_probes_and_exits_zero_on_sigterm(pipeline, services):
    product = pipeline.add_product(stock=5)
    pipeline.place_order([(product, 1)])
    relay = services.relay()
    assert requests.get(f"http://127.0.0.1:{relay.port}/healthz", timeout=5).status_code == 200
    wait_until(lambda: pipeline.outbox()[0]["published_at"], timeout=30, what="row published")
    assert stop(relay) == 0
