"""The consumer's receive linger: after a partial batch, and only then, it waits before the next
receive, so that under load receives come back full (one receive's CPU for up to ten events)."""

from __future__ import annotations

import threading

from order_platform.adapters.consumer import QueueConsumer
from order_platform.adapters.handler_pool import HandlerPool
from order_platform.adapters.leases import Leases
from order_platform.adapters.queues import MAX_BATCH, ReceivedMessage

LINGER = 0.0123
"""A value nothing else waits for, so the recorded waits are the linger's."""


class _Stop(threading.Event):
    """The stop event, recording the consumer's linger waits in the shared journal."""

    def __init__(self, journal: list[object]) -> None:
        super().__init__()
        self._journal = journal

    def wait(self, timeout: float | None = None) -> bool:
        if timeout == LINGER:
            self._journal.append("linger")
            return self.is_set()
        return super().wait(timeout)


class _ScriptedQueue:
    """A queue whose receives return the scripted batch sizes, then stop the consumer."""

    url = "https://sqs.local/000000000000/linger"
    visibility_timeout = 60

    def __init__(self, sizes: list[int], journal: list[object], stop: threading.Event) -> None:
        self._sizes, self._journal, self._stop = iter(sizes), journal, stop
        self._count = 0

    def receive(self, batch: int, wait: int) -> list[ReceivedMessage]:
        size = next(self._sizes, None)
        if size is None:
            self._stop.set()
            return []
        self._journal.append(size)
        messages = []
        for _ in range(size):
            self._count += 1
            messages.append(ReceivedMessage(self.url, f"m{self._count}", f"r{self._count}",
                                            "{}", 1))
        return messages

    def hand_back(self, messages: list[ReceivedMessage]) -> None:
        pass


def _consume(sizes: list[int]) -> tuple[list[object], int]:
    journal: list[object] = []
    stop = _Stop(journal)
    queue = _ScriptedQueue(sizes, journal, stop)
    handled: list[str] = []
    pool = HandlerPool(4)
    consumer = QueueConsumer(queue=queue, handle=lambda m: handled.append(m.message_id),
                             pool=pool, leases=Leases(), linger=LINGER)
    consumer.run(stop)
    assert pool.drain(10)
    return journal, len(handled)


def test_a_partial_batch_lingers_before_the_next_receive_and_nothing_else_does():
    journal, handled = _consume([1, MAX_BATCH, 0, 3, MAX_BATCH - 1])
    assert journal == [1, "linger", MAX_BATCH, 0, 3, "linger", MAX_BATCH - 1, "linger"]
    assert handled == 1 + MAX_BATCH + 3 + MAX_BATCH - 1


def test_an_idle_queue_never_lingers():
    journal, handled = _consume([0, 0, 0])
    assert journal == [0, 0, 0]
    assert handled == 0
