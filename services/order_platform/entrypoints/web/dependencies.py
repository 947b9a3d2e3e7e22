"""Composition for the APIs: the pool each API needs, built from Settings at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flask import current_app

from order_platform.adapters import aws
from order_platform.adapters.credentials import SecretsManagerCredentials
from order_platform.adapters.db import Database
from order_platform.config import Settings

EXTENSION_KEY = "order_platform"


class Endpoint(StrEnum):
    """Which database endpoint a pool talks to."""

    WRITER = "writer"
    READER = "reader"


@dataclass(frozen=True)
class Timeouts:
    """How long PostgreSQL lets one statement run, and wait for a lock, before cancelling it."""

    statement_ms: int
    lock_ms: int | None = None


# Well under gunicorn's 30 s worker timeout, so a stuck query becomes a 503 the client
# can retry instead of a killed worker. Our statements take milliseconds; row locks
# (restocks, the idempotency key's advisory lock) are held for milliseconds too, so a
# writer that waits seconds for one is better told to retry.
API_TIMEOUTS = {
    Endpoint.WRITER: Timeouts(statement_ms=5_000, lock_ms=2_000),
    Endpoint.READER: Timeouts(statement_ms=5_000),
}


@dataclass(frozen=True)
class ApiDependencies:
    """What a running API holds: its settings and its one pool."""

    settings: Settings
    database: Database


def build_database(settings: Settings, endpoint: Endpoint, *, service: str,
                   timeouts: Timeouts | None = None) -> Database:
    """A pool on the writer or the (read-only) reader, with credentials fetched by ARN.

    Every statement is bounded by ``timeouts`` (the endpoint's API_TIMEOUTS unless
    given). Nothing connects here: the secret is fetched and connections opened on
    first use.
    """
    timeouts = timeouts or API_TIMEOUTS[endpoint]
    credentials = SecretsManagerCredentials(aws.client("secretsmanager", settings),
                                            settings.db_secret_arn)
    reader = endpoint is Endpoint.READER
    return Database(
        host=settings.db_reader_endpoint if reader else settings.db_writer_endpoint,
        port=settings.db_port,
        dbname=settings.db_name,
        credentials=credentials,
        max_connections=settings.db_pool_max,
        readonly=reader,
        application_name=f"order-platform-{service}",
        statement_timeout_ms=timeouts.statement_ms,
        lock_timeout_ms=timeouts.lock_ms,
    )


def dependencies() -> ApiDependencies:
    """The current app's dependencies (inside a request or app context)."""
    return current_app.extensions[EXTENSION_KEY]
