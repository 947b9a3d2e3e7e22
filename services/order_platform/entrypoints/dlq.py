"""``order-platform dlq``: inspect and redrive the dead-letter queues of the topology.

    order-platform dlq depths                          every queue, its DLQ and its rule-target DLQ
    order-platform dlq peek QUEUE [--max N] [--target] show DLQ messages (they stay in the DLQ)
    order-platform dlq redrive QUEUE [--max N] [--target]
                                              move DLQ messages back to QUEUE
    order-platform dlq outbox [--max N]                outbox rows the relay parked (the bus kept
                                              rejecting them), one JSON line each
    order-platform dlq outbox-retry (--id ID ... | --all)
                                              unpark rows: the relay tries them again

QUEUE is a topology queue key (``stock-validation``, ``inventory-update``). ``--target``
picks the DLQ of the EventBridge rule target (events the bus could not deliver) instead
of the queue's own DLQ. Redrive uses SQS StartMessageMoveTask where the service has it
and otherwise moves messages itself: receive, send to the source, then delete. A crash
between send and delete duplicates a message, which the consumers' dedupe absorbs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from botocore.config import Config
from botocore.exceptions import ClientError

from order_platform import bootstrap, topology
from order_platform.adapters import aws
from order_platform.adapters.db import Database
from order_platform.config import Settings
from order_platform.processes import DLQ, Endpoint
from order_platform.service_layer import relay

DEPTH_ATTRIBUTES = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed")
PEEK_VISIBILITY_SECONDS = 5
MOVE_VISIBILITY_SECONDS = 60
DEFAULT_MAX = 1000
# Answers meaning "this SQS has no StartMessageMoveTask" (the emulator answers 5xx).
_UNSUPPORTED_CODES = {"UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation",
                      "InvalidAction", "NotImplemented", "UnknownOperationException"}


@dataclass(frozen=True)
class QueueSet:
    """A topology queue with its DLQ and its rule target's DLQ, as URLs and ARNs."""

    queue: topology.Queue
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str
    target_dlq_url: str | None


def _arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"])


def resolve(sqs: Any, settings: Settings, queue: topology.Queue) -> QueueSet:
    """Find a queue's DLQ (from its redrive policy) and its rule-target DLQ (by name)."""
    url = settings.queue_url(queue.url_env_var)
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy"])[
        "Attributes"]
    dlq_arn = json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"]
    dlq_url = sqs.get_queue_url(QueueName=dlq_arn.rsplit(":", 1)[-1])["QueueUrl"]
    # The source is "{prefix}-{key}"; the rule-target DLQ is named from the same prefix.
    prefix = url.rsplit("/", 1)[-1].removesuffix(f"-{queue.key}")
    try:
        target_dlq_url = sqs.get_queue_url(
            QueueName=topology.route_for_queue(queue).target_dlq_name(prefix))["QueueUrl"]
    except ClientError:
        target_dlq_url = None
    return QueueSet(queue, url, attrs["QueueArn"], dlq_url, dlq_arn, target_dlq_url)


def depth(sqs: Any, url: str) -> dict[str, int]:
    """Visible, in-flight and delayed message counts."""
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(DEPTH_ATTRIBUTES))[
        "Attributes"]
    return {"visible": int(attrs.get(DEPTH_ATTRIBUTES[0], 0)),
            "in_flight": int(attrs.get(DEPTH_ATTRIBUTES[1], 0)),
            "delayed": int(attrs.get(DEPTH_ATTRIBUTES[2], 0))}


def depths(sqs: Any, settings: Settings) -> list[dict[str, Any]]:
    """One row per queue and DLQ of the topology."""
    rows: list[dict[str, Any]] = []
    for queue in topology.QUEUES:
        qs = resolve(sqs, settings, queue)
        urls = [("queue", qs.url), ("dlq", qs.dlq_url), ("target-dlq", qs.target_dlq_url)]
        rows.extend({"queue": queue.key, "kind": kind, "name": url.rsplit("/", 1)[-1],
                     **depth(sqs, url)} for kind, url in urls if url)
    return rows


def peek(sqs: Any, url: str, most: int) -> list[dict[str, Any]]:
    """Read up to ``most`` messages, then make them visible again at once (bounded)."""
    seen: dict[str, dict[str, Any]] = {}
    receipts: list[str] = []
    for _ in range(max(1, most // 10 + 1)):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(10, most - len(seen)),
                                  VisibilityTimeout=PEEK_VISIBILITY_SECONDS, WaitTimeSeconds=1,
                                  MessageSystemAttributeNames=["All"]).get("Messages", [])
        if not got:
            break
        for m in got:
            receipts.append(m["ReceiptHandle"])
            seen.setdefault(m["MessageId"], {"message_id": m["MessageId"], "body": m["Body"],
                                             "attributes": m.get("Attributes", {})})
        if len(seen) >= most:
            break
    # Held invisible while reading so one peek does not see a message twice.
    for receipt in receipts:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=0)
    return list(seen.values())[:most]


def move_messages(sqs: Any, source_url: str, destination_url: str, most: int) -> int:
    """Receive from ``source_url``, send to ``destination_url``, then delete; bounded."""
    moved = 0
    for _ in range(most // 10 + 2):
        if moved >= most:
            break
        got = sqs.receive_message(QueueUrl=source_url, MaxNumberOfMessages=min(10, most - moved),
                                  VisibilityTimeout=MOVE_VISIBILITY_SECONDS, WaitTimeSeconds=1,
                                  MessageAttributeNames=["All"]).get("Messages", [])
        if not got:
            break
        for m in got:
            send = {"QueueUrl": destination_url, "MessageBody": m["Body"]}
            if m.get("MessageAttributes"):
                send["MessageAttributes"] = m["MessageAttributes"]
            sqs.send_message(**send)
            sqs.delete_message(QueueUrl=source_url, ReceiptHandle=m["ReceiptHandle"])
            moved += 1
    return moved


def _unsupported(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error.get("Code") in _UNSUPPORTED_CODES or status >= 500


def redrive(sqs: Any, settings: Settings, qs: QueueSet, *, most: int,
            target: bool) -> dict[str, Any]:
    """Move a DLQ's messages back to its source queue."""
    if not target:
        once = aws.client("sqs", settings, config=Config(retries={"total_max_attempts": 1}))
        try:
            task = once.start_message_move_task(SourceArn=qs.dlq_arn, DestinationArn=qs.arn)
            return {"method": "StartMessageMoveTask", "task_handle": task["TaskHandle"]}
        except ClientError as exc:
            if not _unsupported(exc):
                raise
    source = qs.target_dlq_url if target else qs.dlq_url
    if source is None:
        raise SystemExit(f"{qs.queue.key} has no rule-target DLQ")
    return {"method": "receive-send-delete", "moved": move_messages(sqs, source, qs.url, most)}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="order-platform dlq",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("depths", help="depth of every queue and DLQ")
    keys = [q.key for q in topology.QUEUES]
    for name, text in (("peek", "show DLQ messages"), ("redrive", "move DLQ messages back")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("queue", choices=keys)
        cmd.add_argument("--max", type=int, default=DEFAULT_MAX if name == "redrive" else 10)
        cmd.add_argument("--target", action="store_true",
                         help="the rule target's DLQ instead of the queue's DLQ")
    parked = sub.add_parser("outbox", help="outbox rows the relay parked")
    parked.add_argument("--max", type=int, default=100)
    retry = sub.add_parser("outbox-retry", help="unpark outbox rows so the relay retries them")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, action="append", dest="ids", help="an outbox row id")
    which.add_argument("--all", action="store_true", help="every parked row")
    return parser


def run_outbox(db: Database, args: argparse.Namespace, out: TextIO) -> int:
    """The outbox commands: list parked rows, or unpark some or all of them."""
    uow = bootstrap.storage(db).unit_of_work()
    if args.command == "outbox":
        for row in relay.parked_rows(uow, args.max):
            print(json.dumps(row, default=str), file=out)
        return 0
    unparked = relay.unpark(uow, None if args.all else args.ids)
    print(json.dumps({"unparked": unparked}), file=out)
    return 0


def run(settings: Settings, argv: Sequence[str], out: TextIO) -> int:
    """Run one command against the topology described by ``settings``."""
    args = _parser().parse_args(argv)
    if args.command.startswith("outbox"):
        runtime = bootstrap.start(DLQ, settings)
        try:
            return run_outbox(runtime.database(Endpoint.WRITER), args, out)
        finally:
            runtime.close()
    sqs = aws.client("sqs", settings)
    if args.command == "depths":
        print(f"{'queue':18} {'kind':11} {'visible':>8} {'in_flight':>9} {'delayed':>8}  name",
              file=out)
        for row in depths(sqs, settings):
            print(f"{row['queue']:18} {row['kind']:11} {row['visible']:>8} "
                  f"{row['in_flight']:>9} {row['delayed']:>8}  {row['name']}", file=out)
        return 0
    queue = next(q for q in topology.QUEUES if q.key == args.queue)
    qs = resolve(sqs, settings, queue)
    if args.command == "peek":
        url = qs.target_dlq_url if args.target else qs.dlq_url
        if url is None:
            raise SystemExit(f"{qs.queue.key} has no rule-target DLQ")
        for message in peek(sqs, url, args.max):
            print(json.dumps(message), file=out)
        return 0
    print(json.dumps(redrive(sqs, settings, qs, most=args.max, target=args.target)), file=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``order-platform dlq``."""
    argv = sys.argv[1:] if argv is None else argv
    _parser().parse_args(argv)  # --help and usage errors need no configuration
    return run(bootstrap.settings_or_exit(DLQ), argv, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
