"""The write API's factory: ``gunicorn 'order_platform.entrypoints.write_api.app:create_app()'``."""

from __future__ import annotations

from apiflask import APIFlask
from opentelemetry.sdk.trace.export import SpanExporter

from order_platform.adapters.db import Database
from order_platform.config import Settings
from order_platform.entrypoints.web.app import create_api
from order_platform.entrypoints.write_api.routes import orders, products
from order_platform.processes import WRITE_API


def create_app(settings: Settings | None = None, *, database: Database | None = None,
               span_exporter: SpanExporter | None = None) -> APIFlask:
    """The write API on the writer pool (port 3000 by convention)."""
    return create_api(
        __name__,
        process=WRITE_API,
        title="order-platform write API",
        description="Places orders (202, processed asynchronously) and administers the "
                    "catalogue. Every error is {\"error\": {\"code\", \"message\", \"details\"}}.",
        blueprints=(orders, products),
        settings=settings,
        database=database,
        span_exporter=span_exporter,
    )
