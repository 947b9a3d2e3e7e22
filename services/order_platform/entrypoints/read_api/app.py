"""The read API's factory: ``gunicorn 'order_platform.entrypoints.read_api.app:create_app()'``."""

from __future__ import annotations

from apiflask import APIFlask

from order_platform.config import Settings
from order_platform.entrypoints.read_api.routes import orders, products
from order_platform.entrypoints.web.app import create_api
from order_platform.processes import READ_API


def create_app(settings: Settings | None = None, *, database=None) -> APIFlask:
    """The read API on the read-only reader pool (port 3001 by convention)."""
    return create_api(
        __name__,
        process=READ_API,
        title="order-platform read API",
        description="Reads orders and the catalogue from the reader endpoint, which may lag "
                    "the writer: a 404 for a just-created id carries Retry-After.",
        blueprints=(orders, products),
        settings=settings,
        database=database,
        not_found_retry_after=True,
    )
