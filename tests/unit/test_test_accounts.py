"""Which of the suite's system accounts a session removes at its start: only those of
sessions that are gone, never a live session's, never anyone else's."""

from __future__ import annotations

from tests.support import accounts

ALIVE, DEAD = 4242, 4343


def _orphaned(names, running_as=frozenset()):
    return accounts.orphaned(names, pid_alive=lambda pid: pid == ALIVE,
                             running_as=set(running_as))


def test_a_dead_sessions_account_is_orphaned_and_a_live_ones_is_not():
    dead, alive = f"op_test_{DEAD}_ab12cd34", f"op_test_{ALIVE}_ef56ab78"
    assert _orphaned([dead, alive]) == [dead]


def test_an_account_a_process_still_runs_as_is_kept():
    dead = f"op_test_{DEAD}_ab12cd34"
    assert _orphaned([dead], running_as={dead}) == []


def test_other_accounts_are_never_touched():
    assert _orphaned(["postgres", "embedded_postgres", "op_testx_1_2", "op_test_abc_1"]) == []


def test_an_older_name_with_a_random_number_past_any_pid_is_orphaned():
    assert _orphaned(["op_test_6253701013"]) == ["op_test_6253701013"]


def test_a_session_account_names_this_session_and_is_new_each_time():
    first, second = accounts.session_account(), accounts.session_account()
    assert first != second
    assert _orphaned([first], running_as=set()) == [first]  # pid 4242 is "alive" here, not ours
    assert accounts.orphaned([first], pid_alive=lambda pid: True, running_as=set()) == []
