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

The queue's visibility timeout is short (``Queue.visibility_timeout_seconds``): leases are
renewed while a message is in our hands, so a crashed worker's messages return to the others
within seconds.

Stopping (SIGTERM): no new long poll starts; handlers already running finish and are
acknowledged; messages not started (waiting for a slot, held through an outage, or returned
by a long poll that was in progress when the stop came) are handed back at once. A stop lasts
at most the longer of the running handlers and the rest of the long poll in progress (<=
WaitTimeSeconds, 20 s): SQS cannot cancel a ReceiveMessage, and abandoning one would let it
take messages nobody hands back.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from order_platform.adapters.outage import DependencyGate, Failure, classify, jittered
from order_platform.adapters.queues import MAX_BATCH, ReceivedMessage, SqsQueue
from order_platform.topology import MESSAGE_RETRY, Backoff

log = logging.getLogger(__name__)

POISON_VISIBILITY_SECONDS = 1
"""A message we can never handle comes back at once, so it reaches its DLQ in seconds."""
CONTENTION_RETRY = Backoff(base_seconds=0.1, cap_seconds=2)
CONTENTION_ATTEMPTS = 5
"""Retries of a message that meets lock or statement timeouts before it counts as failed."""
ACK_LINGER = 0.5
"""A queue's acknowledgements wait up to this long to fill a delete of ten: a delete costs the
worker the same CPU for one message as for ten (the SDK's per-call work), and the wait costs
nothing but a deduplicated redelivery if the process dies meanwhile. A small fraction of the
visibility left to an acknowledged message (at least half the queue's timeout, as leases are
renewed at half), so none reappears while its delete waits."""
RECEIVE_RETRY = Backoff(base_seconds=0.5, cap_seconds=10)
"""Between receives that SQS did not answer."""
RECEIVE_LINGER = 0.1
"""After a receive that came back with some messages but not a full batch, wait this long
before the next one, so that the next receive finds a batch. A receive costs the worker the
same CPU for one message as for ten (it is the SDK's per-call work: signing, HTTP, parsing),
so under load this cuts the receives, and the CPU per event, by up to ten; it adds at most this
much to the latency of a message that arrives meanwhile. An empty receive (a long poll that
timed out) and a full batch do not linger."""
_SQS_ERRORS = (BotoCoreError, ClientError)
HELD = "held"
"""Outcome of a message kept leased to run again (a dependency outage, contention)."""
FAILED = "failed"
"""Outcome of a message released to SQS to come back later (or reach its DLQ)."""
HANDLED = "handled"
"""Outcome of a handler that returned none of its own."""


class Leases:
    """Keeps received messages invisible while they are ours, and acknowledges them.

    One thread, every ``tick``: renews the leases past half their visibility timeout, and
    deletes what handlers finished, both in batches of ten per queue.
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
                self._clock() + queue.visibility_timeout / 2)

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
            except _SQS_ERRORS:
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
            except _SQS_ERRORS:
                log.exception("cannot extend visibility", extra={"queue_url": queue.url})
                continue
            self.extensions += len(messages)
            self._on_extended(len(messages))
            with self._lock:
                for message in messages:
                    if message.receipt_handle in self._renew_at:
                        self._renew_at[message.receipt_handle] = (
                            now + queue.visibility_timeout / 2)


def _by_queue(pairs: list[tuple[SqsQueue, ReceivedMessage]]) -> dict[SqsQueue, list]:
    grouped: dict[SqsQueue, list[ReceivedMessage]] = defaultdict(list)
    for queue, message in pairs:
        grouped[queue].append(message)
    return grouped


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
            except _SQS_ERRORS:
                failed_receives += 1
                log.exception("receive failed", extra={"queue_url": self.queue.url})
                stop.wait(jittered(RECEIVE_RETRY, failed_receives))
                continue
            failed_receives = 0
            self.watch.received(len(messages))
            for message in messages:
                self.leases.track(self.queue, message)
            for i, message in enumerate(messages):
                if not self.pool.submit(lambda m=message: self.process(m), stop):
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
        except _SQS_ERRORS:
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
        except _SQS_ERRORS:
            log.exception("cannot shorten visibility", extra={"message_id": message.message_id})
