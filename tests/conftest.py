"""The suite's root: its plugins, and what every kind of test may use.

``tests.support.platform`` holds the real servers' fixtures (PostgreSQL, moto, redis) for the
integration and e2e tests; it imports the local platform only when one of them is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

pytest_plugins = [
    # A green run must have run every collected test (pytest-xdist can silently skip some).
    "tests.support.every_test_ran",
    # Under root: temporary directories that the servers' account can always pass through.
    "tests.support.own_basetemp",
    "tests.support.platform",
]


@pytest.fixture
def repo_root() -> Path:
    """The repository root."""
    return Path(__file__).resolve().parent.parent


TODAY = date(2026, 12, 7)
"""The day the suite judges EKS support windows on, whatever the machine's clock says: a
simulated stack then passes or fails the same way on every day it runs. ``make policy``, the
drift job and a real ``pulumi up`` use the real date."""


@pytest.fixture(autouse=True, scope="session")
def _pinned_today() -> Iterator[None]:
    from infra.kubernetes_versions import pinned_today

    with pinned_today(TODAY):
        yield
