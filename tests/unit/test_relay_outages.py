"""The relay waits out an outage of the database or the bus, of any kind, with waits capped at
the topology's dependency backoff, so it is publishing again within seconds of the end."""

from __future__ import annotations

import threading

import psycopg2
import psycopg2.errors
import pytest

from order_platform.adapters.credentials import CredentialsError
from order_platform.adapters.db import DATABASE_DOWN
from order_platform.adapters.deadlines import DeadlineExceeded
from order_platform.service_layer.ports import BusUnavailable
from order_platform.service_layer.relay import CycleReport, run_until_stopped
from order_platform.topology import DEPENDENCY_PROBE


class RecordingStop(threading.Event):
    """A stop event whose waits return at once and are recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        return self.is_set()


class OutageThenQuiet:
    """A relay whose database fails ``failures`` times, then finds nothing to publish."""

    def __init__(self, failures: list[Exception], stop: threading.Event) -> None:
        self.failures = list(failures)
        self.stop = stop
        self.calls = 0

    def publish_batch(self) -> CycleReport:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        self.stop.set()
        return CycleReport(0, 0, 0)


@pytest.mark.parametrize("error", [
    BusUnavailable("PutEvents failed"),
    psycopg2.OperationalError("could not connect"), psycopg2.InterfaceError("closed"),
    DeadlineExceeded("frozen"), CredentialsError("secret unreadable"),
    psycopg2.errors.ReadOnlySqlTransaction("failing over"),
])
def test_every_kind_of_outage_is_waited_out_within_the_dependency_cap(error):
    stop = RecordingStop()
    relay = OutageThenQuiet([error] * 12, stop)
    run_until_stopped(relay, stop, outages=DATABASE_DOWN, idle_seconds=0)
    assert relay.calls == 13
    backoffs = stop.waits[:12]
    assert all(0 <= w <= DEPENDENCY_PROBE.cap_seconds for w in backoffs), backoffs


class Scripted:
    """A relay whose cycles claim ``claims`` rows in turn (then it stops the loop)."""

    def __init__(self, claims: list[int], stop: threading.Event) -> None:
        self.claims = list(claims)
        self.stop = stop

    def publish_batch(self) -> CycleReport:
        claimed = self.claims.pop(0)
        if not self.claims:
            self.stop.set()
        return CycleReport(claimed, claimed, 0)


def test_an_idle_relay_polls_less_often_and_is_back_at_once_on_a_row():
    stop = RecordingStop()
    run_until_stopped(Scripted([0, 0, 0, 0, 0, 3, 0, 0], stop), stop,
                      idle_seconds=0.25, idle_cap_seconds=1.0)
    # Doubling up to the cap while nothing is found; a claimed row resets it.
    assert stop.waits == [0.25, 0.5, 1.0, 1.0, 1.0, 0.25, 0.25, 0.5]


def test_without_a_cap_the_pause_stays():
    stop = RecordingStop()
    run_until_stopped(Scripted([0, 0, 0], stop), stop, idle_seconds=0.25)
    assert stop.waits == [0.25, 0.25, 0.25]
