"""The config contract: every setting a service reads, read once, typed, validated.

``CONTRACT`` is the single list of environment variables. The services load it
with ``load_settings()``; the Pulumi program fills a ConfigMap with exactly these
names from resource outputs; the local platform sets them for its processes.

Standard library only, so the Pulumi program can import it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlparse


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Setting:
    """One environment variable of the contract."""

    env: str
    attr: str
    parse: Callable[[str], Any]
    description: str
    required: bool = True
    default: Any = None
    from_infra: bool = True
    """True when the Pulumi program sets it from a resource output or stack config."""


def _text(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 < value < 65536:
        raise ValueError("must be between 1 and 65535")
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError("must be a positive integer")
    return value


def _poll_wait(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 20:
        raise ValueError("must be between 0 and 20 (the SQS maximum)")
    return value


def _url(raw: str) -> str:
    value = raw.strip()
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("must be an http(s) URL")
    return value


def _cache_url(raw: str) -> str:
    value = raw.strip()
    parsed = urlparse(value)
    if parsed.scheme not in ("redis", "rediss") or not parsed.hostname or parsed.password:
        raise ValueError("must be redis://host:port or rediss://host:port (TLS), with no "
                         "password in it (the AUTH token comes from CACHE_AUTH_SECRET_ARN)")
    return value


def _names(raw: str) -> tuple[str, ...]:
    value = tuple(name.strip() for name in raw.split(",") if name.strip())
    if not value:
        raise ValueError("must name at least one, comma-separated")
    return value


def _audience_claim(raw: str) -> str:
    value = raw.strip()
    if value not in ("aud", "client_id"):
        raise ValueError("must be aud (most OIDC issuers) or client_id (Amazon Cognito access "
                         "tokens)")
    return value


def _secret_arn(raw: str) -> str:
    value = raw.strip()
    if not value.startswith("arn:") or ":secretsmanager:" not in value:
        raise ValueError("must be a Secrets Manager ARN (arn:...:secretsmanager:...)")
    return value


CONTRACT: tuple[Setting, ...] = (
    Setting("DB_SECRET_ARN", "db_secret_arn", _secret_arn,
            "ARN of the Secrets Manager secret holding {username, password}."),
    Setting("DB_WRITER_ENDPOINT", "db_writer_endpoint", _text,
            "Host of the Aurora writer (cluster endpoint)."),
    Setting("DB_READER_ENDPOINT", "db_reader_endpoint", _text,
            "Host of the Aurora reader endpoint."),
    Setting("DB_PORT", "db_port", _port, "PostgreSQL port.", required=False, default=5432),
    Setting("DB_NAME", "db_name", _text, "Database name."),
    Setting("EVENT_BUS_NAME", "event_bus_name", _text, "The custom EventBridge bus."),
    Setting("STOCK_VALIDATION_QUEUE_URL", "stock_validation_queue_url", _url,
            "SQS queue of OrderCreated events (stock validation)."),
    Setting("INVENTORY_UPDATE_QUEUE_URL", "inventory_update_queue_url", _url,
            "SQS queue of StockValidated events (inventory update)."),
    Setting("PRODUCT_CACHE_QUEUE_URL", "product_cache_queue_url", _url,
            "SQS queue of catalogue changes (ProductCreated, ProductRestocked, "
            "InventoryUpdated) that evict the product cache."),
    Setting("AWS_REGION", "aws_region", _text, "AWS region of every client."),
    Setting("AWS_ENDPOINT_URL", "aws_endpoint_url", _url,
            "Local only: the AWS API emulator. Unset on AWS.",
            required=False, from_infra=False),
    Setting("READ_API_URL", "read_api_url", _url,
            "Public base URL of the read API, used for Location headers.",
            required=False, default="http://127.0.0.1:3001"),
    Setting("DB_POOL_MAX", "db_pool_max", _positive_int,
            "Connections per pool per process.", required=False, default=8, from_infra=False),
    Setting("WORKER_CONCURRENCY", "worker_concurrency", _positive_int,
            "Messages handled at once per worker process.", required=False, default=4),
    Setting("HEALTH_PORT", "health_port", _port,
            "Port of a worker's or relay's /healthz and /readyz; unset, the process catalogue's.",
            required=False, from_infra=False),
    Setting("WORKER_POLL_WAIT_SECONDS", "worker_poll_wait_seconds", _poll_wait,
            "SQS long-poll wait of the worker (tests shorten it).", required=False,
            default=20, from_infra=False),
    Setting("RELAY_MAX_ATTEMPTS", "relay_max_attempts", _positive_int,
            "PutEvents attempts for one outbox row before the relay parks it.",
            required=False, default=10, from_infra=False),
    Setting("LOG_LEVEL", "log_level", _text, "Python log level.", required=False,
            default="INFO", from_infra=False),
    Setting("CACHE_URL", "cache_url", _cache_url,
            "The product cache (Valkey/Redis): redis:// or rediss:// (TLS). Unset: no cache, "
            "the read API reads the reader directly.", required=False),
    Setting("CACHE_AUTH_SECRET_ARN", "cache_auth_secret_arn", _secret_arn,
            "Secrets Manager secret holding the cache's AUTH token ({\"password\"}); unset "
            "when the cache has no AUTH (locally).", required=False),
    Setting("OTEL_EXPORTER_OTLP_ENDPOINT", "otel_exporter_otlp_endpoint", _url,
            "Where traces go (OTLP over HTTP, e.g. a collector). Unset: no export.",
            required=False),
    Setting("DB_SSL_ROOT_CERT", "db_ssl_root_cert", _text,
            "CA bundle the database's certificate must chain to (sslmode=verify-full); the "
            "image carries the RDS bundle there.", required=False,
            default="/etc/ssl/certs/rds-global-bundle.pem", from_infra=False),
    Setting("AUTH_ISSUER", "auth_issuer", _url,
            "The issuer (iss) of the bearer tokens the APIs accept."),
    Setting("AUTH_JWKS_URL", "auth_jwks_url", _url,
            "Where the issuer publishes its signing keys (JWKS)."),
    Setting("AUTH_AUDIENCES", "auth_audiences", _names,
            "Comma-separated audiences a token must name (Cognito: the app client ids)."),
    Setting("AUTH_AUDIENCE_CLAIM", "auth_audience_claim", _audience_claim,
            "The claim that names the audience: client_id (Cognito access tokens) or aud.",
            required=False, default="client_id"),
    Setting("AUTH_ROLES_CLAIM", "auth_roles_claim", _text,
            "The claim listing a person's roles (admin, support); machines get them as "
            "orders-api/<role> scopes.", required=False, default="cognito:groups"),
)


@dataclass(frozen=True)
class Settings:
    """The typed settings of one process."""

    db_secret_arn: str
    db_writer_endpoint: str
    db_reader_endpoint: str
    db_port: int
    db_name: str
    event_bus_name: str
    stock_validation_queue_url: str
    inventory_update_queue_url: str
    product_cache_queue_url: str
    aws_region: str
    aws_endpoint_url: str | None
    read_api_url: str
    db_pool_max: int
    worker_concurrency: int
    health_port: int | None
    worker_poll_wait_seconds: int
    relay_max_attempts: int
    log_level: str
    cache_url: str | None
    cache_auth_secret_arn: str | None
    otel_exporter_otlp_endpoint: str | None
    db_ssl_root_cert: str
    auth_issuer: str
    auth_jwks_url: str
    auth_audiences: tuple[str, ...]
    auth_audience_claim: str
    auth_roles_claim: str

    def queue_url(self, url_env_var: str) -> str:
        """The URL of a topology queue, looked up by its contract variable."""
        setting = next(s for s in CONTRACT if s.env == url_env_var)
        return str(getattr(self, setting.attr))


assert {s.attr for s in CONTRACT} == {f.name for f in fields(Settings)}, "contract drift"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the contract from the environment; raise ConfigError naming every bad setting."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for setting in CONTRACT:
        raw = env.get(setting.env)
        if raw is None or raw.strip() == "":
            if setting.required:
                problems.append(f"{setting.env} is required ({setting.description})")
            values[setting.attr] = setting.default
            continue
        try:
            values[setting.attr] = setting.parse(raw)
        except ValueError as exc:
            problems.append(f"{setting.env}={raw!r} is malformed: {exc}")
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    return Settings(**values)
