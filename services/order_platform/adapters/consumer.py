"""Consuming SQS: long polls, a bounded handler pool, leases that keep messages invisible,
batched acknowledgements, and a pause while a dependency is down.

A message is deleted only after its handler returned, i.e. after the handler's transaction
committed. What happens when it did not depends on why (``outage.classify``):

- a dependency failed: the gate opens and polling stops; the message stays leased (its
  visibility keeps being extended) and is handled again once the gate closes. It is never
  received again for this, so an outage of any length spends none of its receive budget;
- contention (a lock or statement timeout): it is retried soon, a few times, still leased;
- poison: it is released at once, and reaches its DLQ after ``maxReceiveCount`` receives;
- anything else: it is released to come back after the topology's ``MESSAGE_RETRY``
  backoff, and reaches its DLQ within ``Queue.time_to_dead_letter()``.

Leases (``leases``) keep a message invisible while it is in our hands and delete it, in
batches, once handled; the handler threads (``handler_pool``) are shared by every queue.

Stopping (SIGTERM): no new long poll starts; handlers already running finish and are
acknowledged; messages not started (waiting for a slot, held through an outage, or returned
by a long poll that was in progress when the stop came) are handed back at once. A stop lasts
at most the longer of the running handlers and the rest of the long poll in progress (<=
WaitTimeSeconds, 20 s): SQS cannot cancel a ReceiveMessage, and abandoning one would let it
take messages nobody hands back.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from order_platform.adapters.handler_pool import HandlerPool
from order_platform.adapters.leases import SQS_ERRORS, Leases
from order_platform.adapters.outage import DependencyGate, Failure, classify, jittered
from order_platform.adapters.queues import MAX_BATCH, ReceivedMessage, SqsQueue
from order_platform.topology import MESSAGE_RETRY, Backoff

log = logging.getLogger(__name__)

POISON_VISIBILITY_SECONDS = 1
"""A message we can never handle comes back at once, so it reaches its DLQ in seconds."""
CONTENTION_RETRY = Backoff(base_seconds=0.1, cap_seconds=2)
CONTENTION_ATTEMPTS = 5
"""Retries of a message that meets lock or statement timeouts before it counts as failed."""
RECEIVE_RETRY = Backoff(base_seconds=0.5, cap_seconds=10)
"""Between receives that SQS did not answer."""
RECEIVE_LINGER = 0.1
"""After a receive that came back with some messages but not a full batch, wait this long
before the next one, so that the next receive finds a batch. A receive costs the worker the
same CPU for one message as for ten (it is the SDK's per-call work: signing, HTTP, parsing),
so under load this cuts the receives, and the CPU per event, by up to ten; it adds at most this
much to the latency of a message that arrives meanwhile. An empty receive (a long poll that
timed out) and a full batch do not linger."""
HELD = "held"
"""Outcome of a message kept leased to run again (a dependency outage, contention)."""
FAILED = "failed"
"""Outcome of a message released to SQS to come back later (or reach its DLQ)."""
HANDLED = "handled"
"""Outcome of a handler that returned none of its own."""


class ConsumerWatch(Protocol):
    """Told what one queue's consumer does (metrics)."""

    def received(self, count: int) -> None:
        """One receive returned ``count`` messages."""

    def handled(self, outcome: str, seconds: float) -> None:
        """A message was handled: what the handler returned (lower case), or ``held`` /
        ``failed``, and how long that took."""


class _Unwatched:
    def received(self, count: int) -> None:
        pass

    def handled(self, outcome: str, seconds: float) -> None:
        pass


@dataclass
class QueueConsumer:
    """Long-polls one queue and runs ``handle`` for each message on the shared pool.

    ``handle`` returns normally once its effect is committed (or was a duplicate), with an
    outcome for the metrics, and raises otherwise; ``outage.classify`` decides what the
    failure means. ``after_commit``
    runs between the handler and the acknowledgement (the crash tests inject a kill there).
    """

    queue: SqsQueue
    handle: Callable[[ReceivedMessage], object]
    pool: HandlerPool
    leases: Leases
    gate: DependencyGate = field(default_factory=DependencyGate.unguarded)
    wait_seconds: int = 20
    batch_size: int = MAX_BATCH
    after_commit: Callable[[ReceivedMessage], None] = field(default=lambda message: None)
    retry: Backoff = MESSAGE_RETRY
    watch: ConsumerWatch = field(default_factory=_Unwatched)
    linger: float = RECEIVE_LINGER

    def __post_init__(self) -> None:
        # Messages kept leased until they may run again: (not before, order, message).
        self._held: list[tuple[float, int, ReceivedMessage]] = []
        self._held_lock = threading.Lock()
        self._order = itertools.count()
        self._contention: dict[str, int] = {}

    @property
    def held(self) -> int:
        """Messages waiting for a dependency to answer, or for a contention retry."""
        return len(self._held)

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set; then hand back every message not yet started."""
        log.info("polling", extra={"queue_url": self.queue.url,
                                   "visibility_timeout": self.queue.visibility_timeout})
        # A full batch even when fewer slots are free: the extra messages wait for a slot
        # (at most one batch per queue), leased meanwhile.
        batch = min(self.batch_size, MAX_BATCH)
        failed_receives = 0
        while self.pool.wait_for_capacity(stop) and self.gate.wait_closed(stop):
            if self._resume_held(stop):
                continue
            try:
                messages = self.queue.receive(batch, self._poll_wait())
            except SQS_ERRORS:
                failed_receives += 1
                log.exception("receive failed", extra={"queue_url": self.queue.url})
                stop.wait(jittered(RECEIVE_RETRY, failed_receives))
                continue
            failed_receives = 0
            self.watch.received(len(messages))
            for message in messages:
                self.leases.track(self.queue, message)
            for i, message in enumerate(messages):
                if not self.pool.submit(functools.partial(self.process, message), stop):
                    self._hand_back(messages[i:])
                    break
            if 0 < len(messages) < batch:
                stop.wait(self.linger)
        with self._held_lock:
            held, self._held = [m for _, _, m in self._held], []
        self._hand_back(held)

    def _poll_wait(self) -> int:
        # While held messages wait for their retry, poll briefly so they are not left
        # waiting behind a 20 s long poll.
        return min(self.wait_seconds, 1) if self._held else self.wait_seconds

    def _resume_held(self, stop: threading.Event) -> bool:
        """Run one held message that is due; True if there was one."""
        with self._held_lock:
            if not self._held or self._held[0][0] > time.monotonic():
                return False
            _, _, message = heapq.heappop(self._held)
        if not self.pool.submit(lambda: self.process(message), stop):
            self._hand_back([message])
        return True

    def _hold(self, message: ReceivedMessage, delay: float = 0.0) -> None:
        with self._held_lock:
            heapq.heappush(self._held, (time.monotonic() + delay, next(self._order), message))

    def _hand_back(self, messages: list[ReceivedMessage]) -> None:
        if not messages:
            return
        for message in messages:
            self.leases.untrack(message)
        try:
            self.queue.hand_back(messages)
        except SQS_ERRORS:
            log.exception("cannot hand messages back; they return after their visibility "
                          "timeout", extra={"queue_url": self.queue.url})
        log.info("stopping: unstarted messages handed back",
                 extra={"queue_url": self.queue.url, "handed_back": len(messages)})

    def process(self, message: ReceivedMessage) -> None:
        """Handle one message, then acknowledge it, hold it, or release it for later."""
        started = time.perf_counter()
        try:
            outcome = self.handle(message)
        except Exception as exc:
            held = self._failed(message, classify(exc), exc)
            self.watch.handled(HELD if held else FAILED, time.perf_counter() - started)
            return
        self._contention.pop(message.message_id, None)
        self.after_commit(message)
        self.leases.acknowledge(self.queue, message)
        self.watch.handled(HANDLED if outcome is None else str(outcome).lower(),
                           time.perf_counter() - started)

    def _failed(self, message: ReceivedMessage, failure: Failure, exc: Exception) -> bool:
        """Hold, retry soon or release ``message``; True when it stays in our hands."""
        context = {"message_id": message.message_id, "receive_count": message.receive_count,
                   "failure": failure.value}
        if failure is Failure.DEPENDENCY:
            # Not the message's fault: keep it leased, and handle it once the gate closes.
            self.gate.trip(exc)
            self._hold(message)
            log.warning("handler met a dependency failure; message held",
                        extra={**context, "error": str(exc)[:300]})
            return True
        if failure is Failure.CONTENTION:
            attempts = self._contention.get(message.message_id, 0) + 1
            if attempts <= CONTENTION_ATTEMPTS:
                self._contention[message.message_id] = attempts
                self._hold(message, jittered(CONTENTION_RETRY, attempts))
                log.warning("handler met contention; retrying soon",
                            extra={**context, "attempt": attempts, "error": str(exc)[:300]})
                return True
            self._contention.pop(message.message_id, None)
        if failure is Failure.POISON:
            log.error("poison message left for the DLQ",
                      extra={**context, "reason": str(exc)})
            self._release(message, POISON_VISIBILITY_SECONDS)
            return False
        log.error("handler failed; message will be redelivered", exc_info=exc, extra=context)
        self._release(message, round(self.retry.delay(message.receive_count)))
        return False

    def _release(self, message: ReceivedMessage, seconds: int) -> None:
        """Give the message back to SQS to return after ``seconds``: one receive spent."""
        self.leases.untrack(message)
        try:
            self.queue.set_visibility([message], seconds)
        except SQS_ERRORS:
            log.exception("cannot shorten visibility", extra={"message_id": message.message_id})
