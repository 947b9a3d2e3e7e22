"""The DLQ tool against the moto server: depths, peek, redrive (with the emulator fallback)."""

from __future__ import annotations

import io
import json

from order_platform import topology
from order_platform.entrypoints import dlq

VALIDATION = topology.STOCK_VALIDATION_QUEUE


def _run(pipeline, *argv: str) -> str:
    out = io.StringIO()
    assert dlq.run(pipeline.settings, list(argv), out) == 0
    return out.getvalue()


def test_depths_lists_every_queue_dlq_and_target_dlq(pipeline):
    sqs = pipeline.sqs()
    sqs.send_message(QueueUrl=pipeline.queue_url(VALIDATION, "dlq"), MessageBody="x")
    sqs.send_message(QueueUrl=pipeline.queue_url(VALIDATION, "dlq"), MessageBody="y")

    lines = _run(pipeline, "depths").splitlines()

    rows = {(cols[0], cols[1]): int(cols[2]) for cols in (ln.split() for ln in lines[1:])}
    assert set(rows) == {(q.key, kind) for q in topology.QUEUES
                         for kind in ("queue", "dlq", "target-dlq")}
    assert rows[(VALIDATION.key, "dlq")] == 2
    assert rows[(VALIDATION.key, "queue")] == 0


def test_peek_shows_messages_and_leaves_them_in_the_dlq(pipeline):
    dlq_url = pipeline.queue_url(VALIDATION, "dlq")
    for body in ("{broken", "second"):
        pipeline.sqs().send_message(QueueUrl=dlq_url, MessageBody=body)

    peeked = [json.loads(ln) for ln in _run(pipeline, "peek", VALIDATION.key).splitlines()]

    assert sorted(m["body"] for m in peeked) == ["second", "{broken"]
    assert pipeline.depth(dlq_url) == (2, 0), "peek made them visible again"


def test_redrive_moves_dlq_messages_back_to_the_source_queue(pipeline):
    dlq_url, url = pipeline.queue_url(VALIDATION, "dlq"), pipeline.queue_url(VALIDATION)
    for i in range(13):
        pipeline.sqs().send_message(QueueUrl=dlq_url, MessageBody=f"m{i}")

    result = json.loads(_run(pipeline, "redrive", VALIDATION.key))

    # The emulator has no StartMessageMoveTask, so the tool moved them itself.
    assert result == {"method": "receive-send-delete", "moved": 13}
    assert pipeline.depth(dlq_url) == (0, 0)
    bodies = pipeline.receive_all_raw(url, expect=13)
    assert sorted(bodies) == sorted(f"m{i}" for i in range(13))


def test_redrive_is_bounded_by_max(pipeline):
    dlq_url = pipeline.queue_url(VALIDATION, "dlq")
    for i in range(5):
        pipeline.sqs().send_message(QueueUrl=dlq_url, MessageBody=f"m{i}")
    result = json.loads(_run(pipeline, "redrive", VALIDATION.key, "--max", "3"))
    assert result["moved"] == 3
    assert pipeline.depth(dlq_url)[0] + pipeline.depth(dlq_url)[1] == 2


def test_redrive_of_the_rule_target_dlq(pipeline):
    target_dlq = pipeline.queue_url(VALIDATION, "target-dlq")
    pipeline.sqs().send_message(QueueUrl=target_dlq, MessageBody='{"detail-type": "x"}')
    result = json.loads(_run(pipeline, "redrive", VALIDATION.key, "--target"))
    assert result == {"method": "receive-send-delete", "moved": 1}
    assert pipeline.depth(pipeline.queue_url(VALIDATION)) == (1, 0)
