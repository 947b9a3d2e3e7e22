"""Fixtures for the infra tests: the real program run under mocks once per stack file."""

from __future__ import annotations

import pytest
import yaml

from infra.simulation import REPO_ROOT, StackRun, run_stack, stack_names

STACKS = stack_names()


@pytest.fixture(scope="session")
def stack_runs() -> dict[str, StackRun]:
    """Every stack, simulated once for the whole session (runs are deterministic)."""
    return {stack: run_stack(stack) for stack in STACKS}


@pytest.fixture(params=STACKS)
def run(request, stack_runs) -> StackRun:
    """One simulated stack; tests using it run once per stack file."""
    return stack_runs[request.param]


@pytest.fixture
def stack_file(run) -> dict:
    """The raw ``Pulumi.<stack>.yaml`` config of the stack under test (unqualified keys)."""
    with (REPO_ROOT / f"Pulumi.{run.stack}.yaml").open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)["config"]
    return {key.split(":", 1)[1] if key.startswith("order-platform:") else key: value
            for key, value in raw.items()}
