"""SQS consumer plumbing: long polls, a bounded handler pool, visibility extension.

A message is deleted only after its handler returned, i.e. after the handler's
transaction committed. Anything else leaves it on the queue: SQS redelivers it, the
consumer's dedupe makes the redelivery harmless, and after the queue's
``maxReceiveCount`` receives SQS moves it to the DLQ.

Stopping (SIGTERM): no new long poll starts; handlers already running finish and
delete; messages not yet started (waiting for a slot, or returned by a long poll
that was in progress when the stop came) are handed back at once with visibility 0,
so another worker takes them without waiting out the visibility timeout. A stop
therefore lasts at most the longer of the running handlers and the rest of the
long poll in progress (<= WaitTimeSeconds, 20 s): SQS has no way to cancel a
ReceiveMessage, and abandoning one would let it take messages nobody hands back.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger(__name__)

MAX_BATCH = 10
"""SQS returns at most ten messages per receive."""
POISON_VISIBILITY_SECONDS = 1
"""A message we can never handle comes back quickly, so it reaches its DLQ in seconds."""
FAILURE_BACKOFF_CAP_SECONDS = 30
"""A failing handler's message returns after 2^(receives) seconds, at most this."""


class PoisonMessage(Exception):
    """The message can never be handled (broken JSON, unknown type, bad detail)."""


@dataclass(frozen=True)
class ReceivedMessage:
    """One SQS message as received."""

    queue_url: str
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int


@dataclass(frozen=True)
class DeliveredEvent:
    """An EventBridge event as delivered to SQS: the envelope's parts we use."""

    envelope_id: str
    detail_type: str
    source: str
    detail: dict[str, Any]

    @property
    def event_id(self) -> str:
        """The dedupe key set when the outbox row was written (stable across retries)."""
        return self.detail["event_id"]


def decode_event(body: str, accepted_types: frozenset[str]) -> DeliveredEvent:
    """Parse the EventBridge envelope in an SQS body; raise PoisonMessage if it is unusable."""
    try:
        envelope = json.loads(body)
    except ValueError as exc:
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
    """One SQS queue: receive, delete and change visibility."""

    def __init__(self, sqs_client, url: str) -> None:
        self._sqs = sqs_client
        self.url = url
        self._visibility_timeout: int | None = None

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

    def delete(self, message: ReceivedMessage) -> None:
        """Acknowledge: the message's effect is committed."""
        self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message.receipt_handle)

    def hand_back(self, messages: list[ReceivedMessage]) -> None:
        """Make unstarted messages visible again at once, in one call."""
        if not messages:
            return
        response = self._sqs.change_message_visibility_batch(QueueUrl=self.url, Entries=[
            {"Id": str(i), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": 0}
            for i, m in enumerate(messages)])
        for failure in response.get("Failed", []):
            log.warning("cannot hand a message back; it returns after its visibility timeout",
                        extra={"queue_url": self.url, "error": failure.get("Message")})

    def set_visibility(self, message: ReceivedMessage, seconds: int) -> None:
        """Make the message invisible for ``seconds`` from now (0 = visible again)."""
        self._sqs.change_message_visibility(QueueUrl=self.url,
                                            ReceiptHandle=message.receipt_handle,
                                            VisibilityTimeout=seconds)


@dataclass
class _Lease:
    queue: SqsQueue
    message: ReceivedMessage
    renew_at: float


class VisibilityExtender:
    """Keeps in-flight messages invisible while slow handlers run.

    One thread checks every ``tick`` seconds and, when half a message's visibility
    timeout has passed, sets it to the full timeout again.
    """

    def __init__(self, tick: float = 0.5) -> None:
        self._tick = tick
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="visibility", daemon=True)

    def start(self) -> VisibilityExtender:
        """Start the background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the background thread."""
        self._stop.set()
        self._thread.join(timeout=5)

    def track(self, queue: SqsQueue, message: ReceivedMessage) -> None:
        """Keep ``message`` invisible from now until ``untrack``."""
        renew_at = time.monotonic() + queue.visibility_timeout / 2
        with self._lock:
            self._leases[message.receipt_handle] = _Lease(queue, message, renew_at)

    def untrack(self, message: ReceivedMessage) -> None:
        """Stop extending ``message`` (it was deleted or handed back)."""
        with self._lock:
            self._leases.pop(message.receipt_handle, None)

    def _run(self) -> None:
        while not self._stop.wait(self._tick):
            now = time.monotonic()
            with self._lock:
                due = [lease for lease in self._leases.values() if lease.renew_at <= now]
            for lease in due:
                try:
                    lease.queue.set_visibility(lease.message, lease.queue.visibility_timeout)
                    lease.renew_at = now + lease.queue.visibility_timeout / 2
                    log.info("visibility extended", extra={"message_id": lease.message.message_id})
                except (BotoCoreError, ClientError):
                    log.exception("cannot extend visibility",
                                  extra={"message_id": lease.message.message_id})


class HandlerPool:
    """A fixed number of handler slots shared by every queue of a process.

    Consumers never hold slots while they long-poll (one queue would starve the
    other); they wait for a free slot, receive, then queue each message for a slot.
    """

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._busy = 0
        self._cond = threading.Condition()
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="handler")

    def wait_for_capacity(self, stop: threading.Event, wait: float = 0.5) -> bool:
        """Block until a slot is free; False once ``stop`` is set."""
        with self._cond:
            while self._busy >= self.concurrency and not stop.is_set():
                self._cond.wait(wait)
            return not stop.is_set()

    def submit(self, work: Callable[[], None], stop: threading.Event | None = None,
               wait: float = 0.5) -> bool:
        """Run ``work`` as soon as a slot is free (blocks until then); False if stopped first."""
        with self._cond:
            while self._busy >= self.concurrency:
                if stop is not None and stop.is_set():
                    return False
                self._cond.wait(wait)
            if stop is not None and stop.is_set():
                return False
            self._busy += 1

        def run() -> None:
            try:
                work()
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

        self._executor.submit(run)
        return True

    def drain(self, timeout: float) -> bool:
        """Wait until nothing is in flight; True when drained within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        self._executor.shutdown(wait=True)
        return True


@dataclass
class QueueConsumer:
    """Long-polls one queue and runs ``handle`` for each message on the shared pool.

    ``handle`` returns normally once its effect is committed (or was a duplicate);
    it raises PoisonMessage for a message that can never succeed, anything else for
    a failure that may pass. ``after_commit`` runs between the handler and the delete
    (the crash-window test hook lives there).
    """

    queue: SqsQueue
    handle: Callable[[ReceivedMessage], None]
    pool: HandlerPool
    extender: VisibilityExtender
    wait_seconds: int = 20
    batch_size: int = MAX_BATCH
    after_commit: Callable[[ReceivedMessage], None] = field(default=lambda message: None)
    error_pause: float = 1.0
    failure_backoff_cap: int = FAILURE_BACKOFF_CAP_SECONDS

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set; then hand back every message not yet started."""
        log.info("polling", extra={"queue_url": self.queue.url,
                                   "visibility_timeout": self.queue.visibility_timeout})
        # A full batch even when fewer slots are free: the extra messages wait for a slot
        # (at most one batch per queue), kept invisible by the extender meanwhile.
        batch = min(self.batch_size, MAX_BATCH)
        while self.pool.wait_for_capacity(stop):
            try:
                messages = self.queue.receive(batch, self.wait_seconds)
            except (BotoCoreError, ClientError):
                log.exception("receive failed", extra={"queue_url": self.queue.url})
                stop.wait(self.error_pause)
                continue
            for message in messages:
                # Received: keep it invisible while it waits for a slot.
                self.extender.track(self.queue, message)
            for i, message in enumerate(messages):
                if not self.pool.submit(lambda m=message: self.process(m), stop):
                    self._hand_back(messages[i:])
                    break

    def _hand_back(self, messages: list[ReceivedMessage]) -> None:
        for message in messages:
            self.extender.untrack(message)
        try:
            self.queue.hand_back(messages)
        except (BotoCoreError, ClientError):
            log.exception("cannot hand messages back; they return after their visibility "
                          "timeout", extra={"queue_url": self.queue.url})
        log.info("stopping: unstarted messages handed back",
                 extra={"queue_url": self.queue.url, "handed_back": len(messages)})

    def process(self, message: ReceivedMessage) -> None:
        """Handle one message, then delete it, or leave it for redelivery."""
        failure: Exception | None = None
        try:
            self.handle(message)
        except Exception as exc:
            failure = exc
        finally:
            # Stop extending before we shorten the visibility or delete.
            self.extender.untrack(message)
        if isinstance(failure, PoisonMessage):
            log.error("poison message left for the DLQ",
                      extra={"message_id": message.message_id, "reason": str(failure),
                             "receive_count": message.receive_count})
            self._release_later(message, POISON_VISIBILITY_SECONDS)
            return
        if failure is not None:
            log.error("handler failed; message will be redelivered", exc_info=failure,
                      extra={"message_id": message.message_id,
                             "receive_count": message.receive_count})
            self._release_later(message, min(self.failure_backoff_cap,
                                             2 ** message.receive_count))
            return
        self.after_commit(message)
        try:
            self.queue.delete(message)
        except (BotoCoreError, ClientError):
            # Committed but not acknowledged: the redelivery will be deduped.
            log.exception("delete failed after commit", extra={"message_id": message.message_id})

    def _release_later(self, message: ReceivedMessage, seconds: int) -> None:
        try:
            self.queue.set_visibility(message, seconds)
        except (BotoCoreError, ClientError):
            log.exception("cannot shorten visibility", extra={"message_id": message.message_id})
