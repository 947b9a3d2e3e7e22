"""The config contract filled from resource outputs: what every pod is told.

The ConfigMap keys are exactly the ``order_platform.config.CONTRACT`` settings with
``from_infra=True``; this module refuses to build anything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from order_platform.config import CONTRACT, Setting
from order_platform.topology import QUEUES


@dataclass(frozen=True)
class TokenIssuer:
    """Whose bearer tokens the APIs accept: the stack's user pool or an issuer of its config."""

    issuer: pulumi.Input[str]
    jwks_url: pulumi.Input[str]
    audiences: pulumi.Input[str]
    """Comma-separated."""
    audience_claim: str
    roles_claim: str


def infra_settings() -> dict[str, Setting]:
    """The contract settings the Pulumi program must provide, by environment variable."""
    return {s.env: s for s in CONTRACT if s.from_infra}


def env_name(attr: str) -> str:
    """The environment variable of a contract attribute (``db_secret_arn`` -> ``DB_SECRET_ARN``)."""
    return next(s.env for s in CONTRACT if s.attr == attr)


def default_of(attr: str):
    """The contract default of a setting, e.g. the worker health port."""
    return next(s.default for s in CONTRACT if s.attr == attr)


def contract_values(*, db_secret_arn: pulumi.Input[str], db_writer_endpoint: pulumi.Input[str],
                    db_reader_endpoint: pulumi.Input[str], db_port: pulumi.Input[int],
                    db_name: pulumi.Input[str], event_bus_name: pulumi.Input[str],
                    queue_urls: Mapping[str, pulumi.Input[str]], aws_region: str,
                    read_api_url: pulumi.Input[str], worker_concurrency: int,
                    auth: TokenIssuer,
                    cache_url: pulumi.Input[str] = "",
                    cache_auth_secret_arn: pulumi.Input[str] = "",
                    otel_exporter_otlp_endpoint: pulumi.Input[str] = "",
                    ) -> dict[str, pulumi.Output[str]]:
    """ConfigMap data keyed by contract variable; raises if it drifts from the contract.

    An empty value is an unset setting (the optional cache and trace export when a stack
    turns them off)."""
    values: dict[str, pulumi.Input] = {
        env_name("db_secret_arn"): db_secret_arn,
        env_name("db_writer_endpoint"): db_writer_endpoint,
        env_name("db_reader_endpoint"): db_reader_endpoint,
        env_name("db_port"): db_port,
        env_name("db_name"): db_name,
        env_name("event_bus_name"): event_bus_name,
        env_name("aws_region"): aws_region,
        env_name("read_api_url"): read_api_url,
        env_name("worker_concurrency"): worker_concurrency,
        env_name("cache_url"): cache_url,
        env_name("cache_auth_secret_arn"): cache_auth_secret_arn,
        env_name("otel_exporter_otlp_endpoint"): otel_exporter_otlp_endpoint,
        env_name("auth_issuer"): auth.issuer,
        env_name("auth_jwks_url"): auth.jwks_url,
        env_name("auth_audiences"): auth.audiences,
        env_name("auth_audience_claim"): auth.audience_claim,
        env_name("auth_roles_claim"): auth.roles_claim,
    }
    for queue in QUEUES:
        values[queue.url_env_var] = queue_urls[queue.key]
    expected = set(infra_settings())
    if set(values) != expected:
        missing, extra = sorted(expected - set(values)), sorted(set(values) - expected)
        raise ValueError(f"ConfigMap drifted from the contract: missing {missing}, extra {extra}")
    return {key: pulumi.Output.from_input(value).apply(str) for key, value in values.items()}
