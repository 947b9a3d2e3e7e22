"""`make restore-drill` in short: a point-in-time restore of the local writer keeps every order
acknowledged before the restore point, whole, and nothing placed after it."""

from __future__ import annotations

import pytest

from order_local import restore_drill

pytestmark = pytest.mark.e2e


def test_a_restore_to_the_point_keeps_what_was_acknowledged_before_it_and_nothing_after(
        tmp_path, pg_system_user):
    findings = restore_drill.run(tmp_path / "drill", orders=5, system_user=pg_system_user)
    assert (findings.acknowledged_before, findings.acknowledged_after) == (5, 5)
    assert findings.missing == () and findings.incomplete == ()
    assert findings.resurrected == ()
    assert findings.orphan_events == 0
    assert findings.newest_commit_before_point_seconds >= 0
    assert findings.passed
    assert "RPO" in findings.report() and "RTO" in findings.report()
