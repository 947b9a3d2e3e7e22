"""The short form of `make chaos`: a writer outage with a backlog waiting and the workers
running, and a worker killed under load. Every invariant must hold; the figures are printed.

The outage costs no message its receive budget: the backlog's messages are received once
before the writer is found away, then held (never received again) until it answers.
"""

from __future__ import annotations

import pytest

from order_local.chaos.__main__ import run_scenarios
from order_local.chaos.scenarios import SHORT

pytestmark = pytest.mark.e2e


def test_the_short_chaos_run_keeps_every_invariant(tmp_path, pg_system_user, capsys):
    lines: list[str] = []
    results = run_scenarios(list(SHORT), base_dir=tmp_path, short=True, outage_seconds=15,
                            seed=20261126, pg_system_user=pg_system_user, echo=lines.append)
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert [r.scenario for r in results] == ["kill-worker", "writer-outage-backlog"]
    for result in results:
        # ok: every invariant, a receive or two more than one at the most (a killed worker's
        # leases run out; a stall of the machine longer than a lease costs another).
        assert result.ok, result.line()
        assert result.acknowledged >= 20
        assert result.max_receives >= 1, result.line()
    outage = results[1]
    assert outage.max_receives <= 2, outage.line()
