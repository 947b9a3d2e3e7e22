"""The application base both APIs build on: one factory, one error shape, one set of hooks."""

from __future__ import annotations

from collections.abc import Iterable

from apiflask import APIBlueprint, APIFlask

from order_platform import bootstrap
from order_platform.config import Settings
from order_platform.entrypoints.web.dependencies import EXTENSION_KEY, ApiDependencies
from order_platform.entrypoints.web.docs_assets import serve_docs_assets
from order_platform.entrypoints.web.errors import register_error_handlers
from order_platform.entrypoints.web.health import health
from order_platform.entrypoints.web.json_provider import FastJSONProvider
from order_platform.entrypoints.web.openapi import CrossFieldRules, require_request_bodies
from order_platform.entrypoints.web.request_metrics import RoutedRequest
from order_platform.entrypoints.web.requests import MAX_BODY_BYTES, register_request_hooks
from order_platform.entrypoints.web.schemas import ErrorResponse
from order_platform.processes import Process

API_VERSION = "1.0.0"


def create_api(
    import_name: str,
    *,
    process: Process,
    title: str,
    description: str,
    blueprints: Iterable[APIBlueprint],
    settings: Settings | None = None,
    database=None,
    not_found_retry_after: bool = False,
    span_exporter=None,
) -> APIFlask:
    """Build an API: settings (from the environment unless given), its pool, routes.

    A process started by gunicorn passes nothing else:
    ``bootstrap.start`` reads and validates the config and sends logs to stderr as JSON.
    Tests pass their own Settings and, if they like, their own Database and a span exporter.
    """
    runtime = bootstrap.start(process, settings, span_exporter=span_exporter)
    settings = runtime.settings
    if database is None:
        database = runtime.database(process.endpoints[0])

    app = APIFlask(import_name, title=title, version=API_VERSION,
                   spec_path="/openapi.json", docs_path="/docs",
                   spec_plugins=[CrossFieldRules()])
    app.json = FastJSONProvider(app)
    app.request_class = RoutedRequest
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        DESCRIPTION=description,
        VALIDATION_ERROR_SCHEMA=ErrorResponse,
        HTTP_ERROR_SCHEMA=ErrorResponse,
    )
    app.spec_processor(require_request_bodies)
    serve_docs_assets(app)
    app.extensions[EXTENSION_KEY] = ApiDependencies(settings=settings,
                                                    storage=bootstrap.storage(database))
    register_error_handlers(app, not_found_retry_after=not_found_retry_after)
    app.register_blueprint(health)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    register_request_hooks(app, instruments=runtime.metrics, tracing=runtime.tracing)
    return app
