"""The estimate prices the copies of the database in the second region, from the plan's own
retention and the stack's traffic."""

from __future__ import annotations

import pytest

from cost import assumptions
from cost.estimate import estimate
from cost.prices import load_prices
from infra.simulation import run_stack, typed_config
from tests.policies.stacks import shipped_run

PRICES = load_prices()


def _backup_lines(run):
    found = estimate(run, typed_config(run), PRICES)
    return {line.kind: line for line in found.lines if line.resource.endswith("-backup-plan")}


def test_prod_pays_for_its_copies_and_their_transfer():
    run = shipped_run("prod")
    config = typed_config(run)
    gb = assumptions.DB_BASE_GB + (config.orders_per_second * assumptions.SECONDS_PER_MONTH
                                   * assumptions.DB_BYTES_PER_ORDER / 1e9)
    lines = _backup_lines(run)
    assert set(lines) == {"rds:aurora-copy-gb-month", "transfer:inter-region-gb"}
    stored = lines["rds:aurora-copy-gb-month"]
    assert stored.price_key == f"rds:aurora-copy-gb-month:{config.db_backup_copy_region}"
    assert stored.quantity == pytest.approx(config.db_backup_copy_retention_days * gb)
    sent = lines["transfer:inter-region-gb"]
    assert sent.price_key == f"transfer:inter-region-gb:{config.db_backup_copy_region}"
    assert sent.quantity == pytest.approx(assumptions.HOURS_PER_MONTH / 24 * gb)
    assert stored.monthly > 0 and sent.monthly > 0


def test_keeping_copies_longer_costs_storage_in_proportion():
    base = _backup_lines(shipped_run("prod"))["rds:aurora-copy-gb-month"]
    longer = _backup_lines(run_stack("prod", {"dbBackupCopyRetentionDays": 28}))[
        "rds:aurora-copy-gb-month"]
    assert longer.monthly == pytest.approx(base.monthly * 28 / 14)


def test_a_stack_without_copies_pays_nothing_for_them():
    assert _backup_lines(shipped_run("staging")) == {}
