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
class ApiDependencies:
    """What a running API holds: its settings and its one pool."""

    settings: Settings
    database: Database


def build_database(settings: Settings, endpoint: Endpoint, *, service: str) -> Database:
    """A pool on the writer or the (read-only) reader, with credentials fetched by ARN.

    Nothing connects here: the secret is fetched and connections opened on first use.
    """
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
    )


def dependencies() -> ApiDependencies:
    """The current app's dependencies (inside a request or app context)."""
    return current_app.extensions[EXTENSION_KEY]
