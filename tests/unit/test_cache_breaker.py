"""The product cache's circuit breaker as a state machine, on a clock the test moves."""

from __future__ import annotations

import pytest

from order_platform.adapters.breaker import CircuitBreaker, State


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock) -> CircuitBreaker:
    return CircuitBreaker("cache", failures_to_open=3, open_seconds=5, clock=clock)


def test_it_opens_after_the_nth_failure_in_a_row_and_then_refuses(breaker):
    for _ in range(2):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state is State.CLOSED
    breaker.failure()
    assert (breaker.state, breaker.opened) == (State.OPEN, 1)
    assert not breaker.allow()


def test_a_success_resets_the_run_of_failures(breaker):
    breaker.failure()
    breaker.failure()
    breaker.success()
    breaker.failure()
    breaker.failure()
    assert breaker.state is State.CLOSED


def test_after_the_cool_down_one_trial_goes_through_and_its_success_closes(breaker, clock):
    for _ in range(3):
        breaker.failure()
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.allow()  # the trial
    assert breaker.state is State.HALF_OPEN
    assert not breaker.allow(), "only one trial at a time"
    breaker.success()
    assert breaker.state is State.CLOSED
    assert breaker.allow()


def test_a_failed_trial_opens_it_again_for_a_whole_cool_down(breaker, clock):
    for _ in range(3):
        breaker.failure()
    clock.now += 5
    assert breaker.allow()
    breaker.failure()
    assert (breaker.state, breaker.opened) == (State.OPEN, 2)
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()


def test_a_trial_that_never_reports_does_not_hold_it_open_for_ever(breaker, clock):
    for _ in range(3):
        breaker.failure()
    clock.now += 5
    assert breaker.allow()  # this caller vanishes without a word
    clock.now += 4
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()
