"""Leases on received SQS messages: kept invisible while a handler has them, acknowledged in
batches once their effect is committed.

The queue's visibility timeout is short (``Queue.visibility_timeout_seconds``): leases are
renewed while a message is in our hands, so a crashed worker's messages return to the others
within seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError

from order_platform.adapters.queues import MAX_BATCH, ReceivedMessage, SqsQueue

log = logging.getLogger(__name__)

RENEW_AFTER = 1 / 3
"""The share of its visibility timeout after which a lease is renewed: two thirds of it are
left as margin for a renewal (or a delete) that comes late, because the leases thread waited
for the GIL behind busy handlers or the SQS call was slow."""
ACK_LINGER = 0.5
"""A queue's acknowledgements wait up to this long to fill a delete of ten: a delete costs the
worker the same CPU for one message as for ten (the SDK's per-call work), and the wait costs
nothing but a deduplicated redelivery if the process dies meanwhile. A small fraction of the
visibility left to an acknowledged message (at least two thirds of the queue's timeout, as
leases are renewed after a third), so none reappears while its delete waits."""
SQS_ERRORS = (BotoCoreError, ClientError)


class Leases:
    """Keeps received messages invisible while they are ours, and acknowledges them.

    One thread, every ``tick``: renews the leases past ``RENEW_AFTER`` of their visibility
    timeout, and deletes what handlers finished, both in batches of ten per queue.
    """

    def __init__(self, tick: float = 0.05,
                 on_extended: Callable[[int], None] = lambda count: None,
                 ack_linger: float = ACK_LINGER,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._tick = tick
        self._on_extended = on_extended
        self._ack_linger = ack_linger
        self._clock = clock
        self._renew_at: dict[str, float] = {}
        self._leased: dict[str, tuple[SqsQueue, ReceivedMessage]] = {}
        # Per queue: when its oldest waiting acknowledgement came, and the messages.
        self._done: dict[SqsQueue, tuple[float, list[ReceivedMessage]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leases", daemon=True)
        self.extensions = 0

    def start(self) -> Leases:
        """Start the background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Acknowledge what is finished, then stop the thread."""
        self._stop.set()
        self._thread.join(timeout=10)
        self._flush_deletes(everything=True)

    def track(self, queue: SqsQueue, message: ReceivedMessage) -> None:
        """Keep ``message`` invisible from now until it is released or acknowledged."""
        with self._lock:
            self._leased[message.receipt_handle] = (queue, message)
            self._renew_at[message.receipt_handle] = (
                self._clock() + queue.visibility_timeout * RENEW_AFTER)

    def untrack(self, message: ReceivedMessage) -> None:
        """Stop renewing ``message`` (it is being released)."""
        with self._lock:
            self._leased.pop(message.receipt_handle, None)
            self._renew_at.pop(message.receipt_handle, None)

    def acknowledge(self, queue: SqsQueue, message: ReceivedMessage) -> None:
        """Delete ``message`` soon, in a batch: its effect is committed."""
        with self._lock:
            self._leased.pop(message.receipt_handle, None)
            self._renew_at.pop(message.receipt_handle, None)
            self._done.setdefault(queue, (self._clock(), []))[1].append(message)

    def _run(self) -> None:
        while not self._stop.wait(self._tick):
            self._flush_deletes()
            self._renew_due()

    def _flush_deletes(self, everything: bool = False) -> None:
        """Delete every full batch of ten, and the rest of a queue's once it has waited
        ``ack_linger`` (or ``everything``, when stopping). What is left after full batches
        waits from now: at most twice the linger in all."""
        due: dict[SqsQueue, list[ReceivedMessage]] = {}
        now = self._clock()
        with self._lock:
            for queue, (since, messages) in list(self._done.items()):
                if everything or now - since >= self._ack_linger:
                    due[queue] = messages
                    del self._done[queue]
                elif len(messages) >= MAX_BATCH:
                    cut = len(messages) - len(messages) % MAX_BATCH
                    due[queue] = messages[:cut]
                    if cut == len(messages):
                        del self._done[queue]
                    else:
                        self._done[queue] = (now, messages[cut:])
        for queue, messages in due.items():
            try:
                refused = queue.delete(messages)
            except SQS_ERRORS:
                # Committed but not acknowledged: the redelivery will be deduplicated.
                log.exception("delete failed after commit", extra={"queue_url": queue.url})
                continue
            for message in refused:
                log.warning("SQS refused a delete; the redelivery will be deduplicated",
                            extra={"message_id": message.message_id})

    def _renew_due(self) -> None:
        now = self._clock()
        with self._lock:
            due = [self._leased[h] for h, at in self._renew_at.items() if at <= now]
        for queue, messages in _by_queue(due).items():
            try:
                queue.set_visibility(messages, queue.visibility_timeout)
            except SQS_ERRORS:
                log.exception("cannot extend visibility", extra={"queue_url": queue.url})
                continue
            self.extensions += len(messages)
            self._on_extended(len(messages))
            with self._lock:
                for message in messages:
                    if message.receipt_handle in self._renew_at:
                        self._renew_at[message.receipt_handle] = (
                            now + queue.visibility_timeout * RENEW_AFTER)


def _by_queue(pairs: list[tuple[SqsQueue, ReceivedMessage]]
              ) -> dict[SqsQueue, list[ReceivedMessage]]:
    grouped: dict[SqsQueue, list[ReceivedMessage]] = defaultdict(list)
    for queue, message in pairs:
        grouped[queue].append(message)
    return grouped
