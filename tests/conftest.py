"""The suite's root: its plugins, and what every kind of test may use.

``tests.support.platform`` holds the real servers' fixtures (PostgreSQL, moto, redis) for the
integration and e2e tests; it imports the local platform only when one of them is used.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = [
    # A green run must have run every collected test (pytest-xdist can silently skip some).
    "tests.support.every_test_ran",
    "tests.support.platform",
]


@pytest.fixture
def repo_root() -> Path:
    """The repository root."""
    return Path(__file__).resolve().parent.parent
