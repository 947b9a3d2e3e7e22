"""Acknowledgements go out as full deletes of ten; a partial one waits, but not forever."""

from __future__ import annotations

from order_platform.adapters.leases import Leases
from order_platform.adapters.queues import MAX_BATCH, ReceivedMessage


class _RecordingQueue:
    """Records the messages of each delete call."""

    visibility_timeout = 10

    def __init__(self, name: str) -> None:
        self.url = f"https://sqs.local/000000000000/{name}"
        self.deletes: list[list[str]] = []

    def delete(self, messages: list[ReceivedMessage]) -> list[ReceivedMessage]:
        self.deletes.append([m.message_id for m in messages])
        return []


def _acknowledge(leases: Leases, queue: _RecordingQueue, count: int) -> None:
    for n in range(count):
        message = ReceivedMessage(queue.url, f"{queue.url}#{n}", f"r{n}", "{}", 1)
        leases.track(queue, message)
        leases.acknowledge(queue, message)


def test_full_batches_go_at_once_and_the_rest_waits_for_more():
    busy, quiet = _RecordingQueue("busy"), _RecordingQueue("quiet")
    leases = Leases(ack_linger=3600)
    _acknowledge(leases, busy, 2 * MAX_BATCH + 5)
    _acknowledge(leases, quiet, 3)
    leases._flush_deletes()  # one tick of the leases thread
    assert [len(d) for d in busy.deletes] == [2 * MAX_BATCH]  # SqsQueue sends it as 2 calls
    assert quiet.deletes == []
    _acknowledge(leases, quiet, MAX_BATCH - 3)  # its own ids repeat; the count matters
    leases._flush_deletes()
    assert [len(d) for d in quiet.deletes] == [MAX_BATCH]


def test_a_partial_batch_goes_once_its_oldest_has_waited_the_linger():
    queue = _RecordingQueue("slow")
    leases = Leases(ack_linger=0.0)
    _acknowledge(leases, queue, 3)
    leases._flush_deletes()
    assert [len(d) for d in queue.deletes] == [3]


def test_stopping_deletes_everything_acknowledged():
    queue = _RecordingQueue("stopping")
    leases = Leases(tick=3600, ack_linger=3600).start()
    _acknowledge(leases, queue, MAX_BATCH + 4)
    leases.stop()
    assert sum(len(d) for d in queue.deletes) == MAX_BATCH + 4


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_what_follows_a_full_batch_waits_its_own_linger():
    queue, clock = _RecordingQueue("steady"), _Clock()
    leases = Leases(ack_linger=0.5, clock=clock)
    _acknowledge(leases, queue, MAX_BATCH)
    leases._flush_deletes()
    clock.now += 0.4
    _acknowledge(leases, queue, 1)
    clock.now += 0.2  # 0.6 s after the full batch's first, 0.2 s after this one's
    leases._flush_deletes()
    assert [len(d) for d in queue.deletes] == [MAX_BATCH]
    clock.now += 0.3
    leases._flush_deletes()
    assert [len(d) for d in queue.deletes] == [MAX_BATCH, 1]


def test_the_rest_after_full_batches_waits_from_when_they_went():
    queue, clock = _RecordingQueue("busy"), _Clock()
    leases = Leases(ack_linger=0.5, clock=clock)
    _acknowledge(leases, queue, MAX_BATCH + 2)
    clock.now += 0.1
    leases._flush_deletes()
    clock.now += 0.45  # 0.55 s after the two were acknowledged, 0.45 s after the batch went
    leases._flush_deletes()
    assert [len(d) for d in queue.deletes] == [MAX_BATCH]
    clock.now += 0.1
    leases._flush_deletes()
    assert [len(d) for d in queue.deletes] == [MAX_BATCH, 2]


class _RenewingQueue(_RecordingQueue):
    """Records the messages of each visibility renewal too."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.renewals: list[list[str]] = []

    def set_visibility(self, messages: list[ReceivedMessage], seconds: int) -> None:
        self.renewals.append([m.message_id for m in messages])


def test_a_lease_is_renewed_after_a_third_of_its_timeout_leaving_two_thirds_to_spare():
    queue, clock = _RenewingQueue("slow-handler"), _Clock()
    leases = Leases(clock=clock)
    message = ReceivedMessage(queue.url, "m1", "r1", "{}", 1)
    leases.track(queue, message)
    clock.now += 3.3  # of a 10 s visibility timeout
    leases._renew_due()
    assert queue.renewals == []
    clock.now += 0.1
    leases._renew_due()
    assert queue.renewals == [["m1"]]
    clock.now += 3.3  # a third again, counted from the renewal
    leases._renew_due()
    assert queue.renewals == [["m1"]]
    clock.now += 0.1
    leases._renew_due()
    assert queue.renewals == [["m1"], ["m1"]]
