"""The read API's factory: ``gunicorn 'order_platform.entrypoints.read_api.app:create_app()'``."""

from __future__ import annotations

from enum import Enum

from apiflask import APIFlask
from opentelemetry.sdk.trace.export import SpanExporter

from order_platform.adapters import cache as cache_adapter
from order_platform.adapters.db import Database
from order_platform.config import Settings
from order_platform.entrypoints.read_api.routes import (
    CACHE_EXTENSION,
    orders,
    products,
)
from order_platform.entrypoints.web.app import create_api
from order_platform.entrypoints.web.dependencies import EXTENSION_KEY
from order_platform.processes import READ_API
from order_platform.service_layer.ports import Cache


class _Cache(Enum):
    FROM_SETTINGS = "from settings"


def create_app(settings: Settings | None = None, *, database: Database | None = None,
               cache: Cache | _Cache | None = _Cache.FROM_SETTINGS,
               span_exporter: SpanExporter | None = None) -> APIFlask:
    """The read API on the read-only reader pool (port 3001 by convention), with the product
    cache when ``CACHE_URL`` is set. Tests may pass their own ``cache`` (or None)."""
    app = create_api(
        __name__,
        process=READ_API,
        title="order-platform read API",
        description="Reads orders and the catalogue from the reader endpoint, which may lag "
                    "the writer: a 404 for a just-created id carries Retry-After. Products "
                    "may come from a cache; their stock is informational (see those "
                    "operations).",
        blueprints=(orders, products),
        settings=settings,
        database=database,
        not_found_retry_after=True,
        span_exporter=span_exporter,
    )
    if cache is _Cache.FROM_SETTINGS:
        cache = cache_adapter.from_settings(app.extensions[EXTENSION_KEY].settings)
    # Connects on first use; /readyz does not look at it: a read API without its cache
    # still answers, from the reader.
    app.extensions[CACHE_EXTENSION] = cache
    return app
