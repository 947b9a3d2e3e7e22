"""Fixtures shared by the integration tests of the database adapters."""

import pytest

from order_platform.adapters import aws
from order_platform.adapters.credentials import SecretsManagerCredentials
from order_platform.adapters.db import Database


@pytest.fixture
def database(settings):
    """A writer pool of ONE connection (so a test sees whether its session was kept or
    replaced), with a 200 ms statement timeout."""
    db = Database(
        host=settings.db_writer_endpoint, port=settings.db_port, dbname=settings.db_name,
        credentials=SecretsManagerCredentials(aws.client("secretsmanager", settings),
                                              settings.db_secret_arn),
        ssl_root_cert=settings.db_ssl_root_cert, max_connections=1, statement_timeout_ms=200,
    )
    yield db
    db.close()
