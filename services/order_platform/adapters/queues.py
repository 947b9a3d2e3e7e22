"""SQS for the consumers: messages, EventBridge envelopes, and the calls on one queue.

Every call that SQS can batch (delete, change visibility) is batched, ten entries a call.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from order_platform.service_layer.ports import BusEvent, PoisonMessage

log = logging.getLogger(__name__)

MAX_BATCH = 10
"""SQS returns at most ten messages per receive."""


@dataclass(frozen=True)
class ReceivedMessage:
    """One SQS message as received."""

    queue_url: str
    message_id: str
    receipt_handle: str
    """What deletes it or changes its visibility: one per receive of the message."""
    body: str
    receive_count: int
    """Receives so far, this one included (SQS's ApproximateReceiveCount)."""


@dataclass(frozen=True)
class DeliveredEvent(BusEvent):
    """An EventBridge event as delivered to SQS: the envelope's parts we use."""

    envelope_id: str
    """EventBridge's id: new on every publish, so no dedupe key (see ``event_id``)."""

    @property
    def event_id(self) -> str:
        """The dedupe key set when the outbox row was written (stable across retries)."""
        return str(self.detail["event_id"])


def decode_event(body: str, accepted_types: frozenset[str]) -> DeliveredEvent:
    """Parse the EventBridge envelope in an SQS body; raise PoisonMessage if it is unusable."""
    try:
        envelope = orjson.loads(body)
    except ValueError as exc:  # orjson.JSONDecodeError is one
        raise PoisonMessage(f"body is not JSON: {exc}") from exc
    if not isinstance(envelope, dict) or not isinstance(envelope.get("detail"), dict):
        raise PoisonMessage("body is not an EventBridge envelope with a detail object")
    detail_type = envelope.get("detail-type")
    if detail_type not in accepted_types:
        raise PoisonMessage(f"detail-type {detail_type!r} is not handled on this queue")
    try:
        uuid.UUID(str(envelope["detail"].get("event_id")))
    except ValueError as exc:
        raise PoisonMessage("detail.event_id is missing or not a uuid") from exc
    return DeliveredEvent(envelope_id=str(envelope.get("id")), detail_type=detail_type,
                          source=str(envelope.get("source")), detail=envelope["detail"])


class SqsQueue:
    """One SQS queue: receive, delete and change visibility, batched where SQS allows."""

    def __init__(self, sqs_client: Any, url: str, visibility_timeout: int | None = None, *,
                 control_client: Any = None) -> None:
        self._sqs = sqs_client
        # Deletes and visibility changes answer in milliseconds; a client with a short read
        # timeout keeps a hung endpoint from stalling the leases for a long poll's length.
        self._control = control_client or sqs_client
        self.url = url
        self._visibility_timeout = visibility_timeout

    @property
    def visibility_timeout(self) -> int:
        """The queue's own visibility timeout (set by infra from the topology), read once."""
        if self._visibility_timeout is None:
            attrs = self._sqs.get_queue_attributes(QueueUrl=self.url,
                                                   AttributeNames=["VisibilityTimeout"])
            self._visibility_timeout = int(attrs["Attributes"]["VisibilityTimeout"])
        return self._visibility_timeout

    def receive(self, max_messages: int, wait_seconds: int) -> list[ReceivedMessage]:
        """Long-poll for up to ``max_messages``; they stay invisible for the queue's timeout."""
        response = self._sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=max_messages, WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        return [
            ReceivedMessage(queue_url=self.url, message_id=m["MessageId"],
                            receipt_handle=m["ReceiptHandle"], body=m["Body"],
                            receive_count=int(m.get("Attributes", {}).get(
                                "ApproximateReceiveCount", 1)))
            for m in response.get("Messages", [])
        ]

    def delete(self, messages: Sequence[ReceivedMessage]) -> list[ReceivedMessage]:
        """Acknowledge messages whose effect is committed; those SQS refused."""
        return self._batched(self._control.delete_message_batch, messages,
                             lambda m: {"ReceiptHandle": m.receipt_handle})

    def set_visibility(self, messages: Sequence[ReceivedMessage],
                       seconds: int) -> list[ReceivedMessage]:
        """Make messages invisible for ``seconds`` from now (0: visible again at once);
        the ones SQS refused (already deleted, or their receipt expired)."""
        return self._batched(self._control.change_message_visibility_batch, messages,
                             lambda m: {"ReceiptHandle": m.receipt_handle,
                                        "VisibilityTimeout": seconds})

    def hand_back(self, messages: Sequence[ReceivedMessage]) -> None:
        """Make unstarted messages visible again at once."""
        for refused in self.set_visibility(messages, 0):
            log.warning("cannot hand a message back; it returns after its visibility timeout",
                        extra={"queue_url": self.url, "message_id": refused.message_id})

    def _batched(self, call: Callable[..., Any], messages: Sequence[ReceivedMessage],
                 entry: Callable[[ReceivedMessage], dict[str, Any]]) -> list[ReceivedMessage]:
        refused = []
        for start in range(0, len(messages), MAX_BATCH):
            chunk = messages[start:start + MAX_BATCH]
            response = call(QueueUrl=self.url, Entries=[
                {"Id": str(i), **entry(m)} for i, m in enumerate(chunk)])
            refused += [chunk[int(failure["Id"])] for failure in response.get("Failed", [])]
        return refused
