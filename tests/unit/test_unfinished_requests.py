"""A worker's ledger of unfinished requests: a slot per thread, read back after it died."""

from __future__ import annotations

import threading

from order_platform.entrypoints.web import unfinished_requests as unfinished


def test_what_a_ledger_holds_is_what_began_and_did_not_end(tmp_path):
    ledger = unfinished.Ledger(unfinished.ledger_path(tmp_path, 4242))
    started, finish = threading.Barrier(3), threading.Event()

    def request(method: str, ends: bool) -> None:
        ledger.begin(method)
        started.wait(10)
        finish.wait(10)
        if ends:
            ledger.end()

    threads = [threading.Thread(target=request, args=("POST", False)),
               threading.Thread(target=request, args=("BREW", True))]
    for thread in threads:
        thread.start()
    started.wait(10)
    ledger.begin("GET")
    ledger.end()  # this thread's request ended: its slot is free again
    finish.set()
    for thread in threads:
        thread.join(10)
    left = unfinished.left_unfinished(tmp_path, 4242)
    assert [method for method, _ in left] == ["POST"]
    assert all(started_at > 0 for _, started_at in left)
    # Read once: the ledger of a dead worker goes with it.
    assert unfinished.left_unfinished(tmp_path, 4242) == []
    assert not unfinished.ledger_path(tmp_path, 4242).exists()


def test_an_unknown_method_is_other_and_a_missing_ledger_is_nothing(tmp_path):
    ledger = unfinished.Ledger(unfinished.ledger_path(tmp_path, 1))
    ledger.begin("BREW")
    assert [m for m, _ in unfinished.left_unfinished(tmp_path, 1)] == ["OTHER"]
    assert unfinished.left_unfinished(tmp_path, 2) == []
