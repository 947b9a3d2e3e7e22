"""Fixtures for pipeline integration tests: a private database and topology per test."""

from __future__ import annotations

import pytest

from tests.integration.pipeline.harness import Pipeline, make_pipeline


@pytest.fixture
def pipeline(pg_server, aws_endpoint, aws_credentials_env) -> Pipeline:
    """A migrated private database and a private bus/queues, torn down after the test."""
    pipe = make_pipeline(pg_server, aws_endpoint)
    yield pipe
    pipe.close()
