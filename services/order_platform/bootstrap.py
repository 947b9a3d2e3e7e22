"""One start-up for every process: settings or a clean exit, logging, credentials, pools,
the persistence port on them, metrics and traces.

Every entrypoint (both APIs, the worker, the relay, the migrator, the DLQ tool) and every test
harness starts here, so nothing else reads the environment, configures logging or builds a
database pool. Nothing connects at start: the secret is fetched and connections are opened
on first use.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter

from order_platform import telemetry
from order_platform.adapters import aws, tracing
from order_platform.adapters.credentials import SecretsManagerCredentials
from order_platform.adapters.db import Database
from order_platform.adapters.metrics import Instruments, PoolGauges
from order_platform.adapters.read_model import SqlReadModel
from order_platform.adapters.tokens import JwksTokenVerifier
from order_platform.adapters.tracing import Tracing
from order_platform.adapters.unit_of_work import SqlUnitOfWork
from order_platform.config import ConfigError, Settings, load_settings
from order_platform.domain.access import TokenVerifier
from order_platform.logs import configure_logging
from order_platform.processes import Endpoint, Kind, Process
from order_platform.service_layer.read_model import ReadModel
from order_platform.service_layer.unit_of_work import UnitOfWork

CONFIG_EXIT = 2
"""Exit code of a process whose configuration is missing or malformed."""


@dataclass(frozen=True)
class PoolSpec:
    """How one pool is built: its size, and the limits of every session in it."""

    max_connections: int
    statement_timeout_ms: int = 5_000
    """PostgreSQL cancels a statement that runs longer (QueryCanceled)."""
    lock_timeout_ms: int | None = 2_000
    """PostgreSQL cancels a statement that waits longer for a lock (LockNotAvailable)."""
    idle_in_transaction_timeout_ms: int = 5_000
    """PostgreSQL ends a session idle this long inside a transaction, releasing its locks:
    a client frozen or cut off mid-transaction cannot hold up anyone for longer."""

    @property
    def deadline_seconds(self) -> float:
        """How long a call waits for a server that does not answer at all: past the server's
        own limit, so that a slow statement is still cancelled by the server (which keeps
        the session) and only a silent server costs the connection."""
        return self.statement_timeout_ms / 1000 + DEADLINE_MARGIN_SECONDS


# Statements take milliseconds and row locks are held for milliseconds, so a call that takes
# seconds is better failed and retried: a 503 with Retry-After on the APIs (well under
# gunicorn's 30 s worker timeout), a message held and retried by the worker.
DEADLINE_MARGIN_SECONDS = 1.0
RELAY_POOL_SIZE = 2
"""The relay's loop uses one connection at a time; one more for its readiness probe."""
RELAY_IDLE_IN_TRANSACTION_MS = 30_000
"""The relay's claim stays open while PutEvents answers (about 17 s at worst)."""


def pool_specs(proc: Process, settings: Settings) -> dict[Endpoint, PoolSpec]:
    """The pools ``proc`` gets: one per endpoint it uses, sized and bounded for its work."""
    if proc.kind is Kind.API:
        # The reader takes no locks worth waiting for; the writer's are the idempotency
        # key's advisory lock and restocks.
        return {e: PoolSpec(settings.db_pool_max,
                            lock_timeout_ms=2_000 if e is Endpoint.WRITER else None)
                for e in proc.endpoints}
    if proc.consumes:
        # Each handler holds at most one connection per pool at a time; +1 for the probes.
        size = max(settings.db_pool_max, settings.worker_concurrency + 1)
        return {e: PoolSpec(size, lock_timeout_ms=3_000) for e in proc.endpoints}
    return {e: PoolSpec(RELAY_POOL_SIZE,
                        idle_in_transaction_timeout_ms=RELAY_IDLE_IN_TRANSACTION_MS)
            for e in proc.endpoints}


def settings_or_exit(proc: Process) -> Settings:
    """The config contract from the environment, or exit 2 with one line that names every
    bad setting."""
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"order-platform {proc.role}: {exc}", file=sys.stderr)
        raise SystemExit(CONFIG_EXIT) from None


@dataclass(frozen=True)
class Storage:
    """The persistence port on one pool: units of work, and the read model."""

    database: Database
    reads: ReadModel

    def unit_of_work(self) -> UnitOfWork:
        """A new unit of work on the pool: one per request or message (not thread-safe)."""
        return SqlUnitOfWork(self.database)


def storage(database: Database) -> Storage:
    """The persistence port's adapters on ``database``."""
    return Storage(database, SqlReadModel(database))


def token_verifier(settings: Settings) -> TokenVerifier:
    """The APIs' check of bearer tokens: the configured issuer's, by its published keys."""
    return JwksTokenVerifier(issuer=settings.auth_issuer, jwks_url=settings.auth_jwks_url,
                             audiences=settings.auth_audiences,
                             audience_claim=settings.auth_audience_claim,
                             roles_claim=settings.auth_roles_claim)


@dataclass
class Runtime:
    """What a started process holds: settings, credentials, pools, metrics and tracing."""

    process: Process
    settings: Settings
    credentials: SecretsManagerCredentials
    databases: dict[Endpoint, Database]
    metrics: Instruments
    tracing: Tracing | None
    """None unless traces are exported (``OTEL_EXPORTER_OTLP_ENDPOINT``)."""

    def database(self, endpoint: Endpoint) -> Database:
        """The pool on ``endpoint``; KeyError if the catalogue does not give it this one."""
        return self.databases[endpoint]

    def storage(self, endpoint: Endpoint) -> Storage:
        """The persistence port on the pool on ``endpoint``."""
        return storage(self.databases[endpoint])

    def client(self, service: str, **overrides: Any) -> Any:
        """A boto3 client; ``AWS_ENDPOINT_URL`` is the only local difference."""
        return aws.client(service, self.settings, **overrides)

    @property
    def health_port(self) -> int:
        """Where a daemon answers its probes: ``HEALTH_PORT``, else the catalogue's."""
        port = self.settings.health_port or self.process.health_port
        if port is None:
            raise ValueError(f"{self.process.role} answers no probes")
        return port

    def close(self) -> None:
        """Close every pool; export the spans still buffered."""
        for database in self.databases.values():
            database.close()
        if self.tracing is not None:
            self.tracing.shutdown()


def start(proc: Process, settings: Settings | None = None, *,
          pools: Mapping[Endpoint, PoolSpec] | None = None,
          span_exporter: SpanExporter | None = None) -> Runtime:
    """Start ``proc``: settings (from the environment unless given), logging, credentials,
    pools, its metrics, and tracing when it is exported.

    A process started for real passes no settings: they are read and validated here
    (ConfigError names every bad one) and logs go to stderr as JSON. Tests pass their own
    Settings and keep their logging. ``pools`` replaces the catalogue-derived ``pool_specs``;
    ``span_exporter`` receives the spans (tests) instead of the OTLP endpoint.
    """
    if settings is None:
        settings = load_settings()
        configure_logging(settings.log_level, service=proc.role)
    credentials = SecretsManagerCredentials(aws.client("secretsmanager", settings),
                                            settings.db_secret_arn)
    instruments = Instruments(telemetry.emitted_by(proc))
    specs = pool_specs(proc, settings) if pools is None else dict(pools)
    databases = {endpoint: _database(proc, settings, credentials, endpoint, spec,
                                     watch=PoolGauges(instruments, endpoint.value,
                                                      spec.max_connections))
                 for endpoint, spec in specs.items()}
    traces = tracing.start(proc.role, settings.otel_exporter_otlp_endpoint,
                           exporter=span_exporter)
    return Runtime(proc, settings, credentials, databases, instruments, traces)


def start_or_exit(proc: Process, **kwargs: Any) -> Runtime:
    """``start`` from the environment for a process's ``main``: a bad setting exits 2 with
    one line naming it, instead of a traceback."""
    settings = settings_or_exit(proc)
    configure_logging(settings.log_level, service=proc.role)
    return start(proc, settings, **kwargs)


def _database(proc: Process, settings: Settings, credentials: SecretsManagerCredentials,
              endpoint: Endpoint, spec: PoolSpec, *, watch: PoolGauges) -> Database:
    reader = endpoint is Endpoint.READER
    return Database(
        host=settings.db_reader_endpoint if reader else settings.db_writer_endpoint,
        port=settings.db_port, dbname=settings.db_name, credentials=credentials,
        ssl_root_cert=settings.db_ssl_root_cert,
        max_connections=spec.max_connections, readonly=reader,
        application_name=f"order-{proc.role}" + ("-reader" if reader else ""),
        statement_timeout_ms=spec.statement_timeout_ms, lock_timeout_ms=spec.lock_timeout_ms,
        idle_in_transaction_timeout_ms=spec.idle_in_transaction_timeout_ms,
        deadline_seconds=spec.deadline_seconds, watch=watch)
