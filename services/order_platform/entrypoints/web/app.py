"""The application base both APIs build on: one factory, one error shape, one set of hooks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from types import FunctionType
from typing import Any

from apiflask import APIBlueprint, APIFlask
from flask import Flask, Request, Response
from flask.sessions import NullSession, SessionInterface, SessionMixin
from opentelemetry.sdk.trace.export import SpanExporter
from werkzeug.datastructures import Headers

from order_platform import bootstrap
from order_platform.adapters.db import Database
from order_platform.config import Settings
from order_platform.domain.access import TokenVerifier
from order_platform.entrypoints.web import auth
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

_PLAIN_URI = re.compile(r"https?://[A-Za-z0-9.:-]+(?:/[A-Za-z0-9_.~%!$&'()*+,;=:@/-]*)?")
"""A URL that werkzeug's ``iri_to_uri`` gives back unchanged: an ASCII host, and a path of
characters it does not quote. ``tests/unit/test_api_responses.py`` holds it to that."""


class ApiResponse(Response):
    """The APIs' response class: Flask's, sending a Location that is already a URI as it is.

    werkzeug converts every ``Location`` from an IRI on the way out (it splits the URL, quotes
    each part and IDNA-encodes the host): a twentieth of a ``POST /orders``. The APIs' own
    Locations are the read API's configured URL and a path of a uuid or a SKU, which need none.
    """

    def get_wsgi_headers(self, environ: dict[str, Any]) -> Headers:
        """werkzeug's headers, the Location left alone when it is a plain URI already."""
        location = self.headers.get("Location")
        if location is None or not _PLAIN_URI.fullmatch(location):
            return super().get_wsgi_headers(environ)
        del self.headers["Location"]
        try:
            headers = super().get_wsgi_headers(environ)
        finally:
            self.headers["Location"] = location
        headers["Location"] = location
        return headers


class NoSessions(SessionInterface):
    """The APIs keep no sessions (no cookies, no secret key). Flask's default interface looks
    for a key to sign one with and makes an empty session on every request; this gives every
    request the same null session, which refuses to be written to (Flask's session interface
    is there to be replaced)."""

    null = NullSession()

    def open_session(self, app: Flask, request: Request) -> NullSession:
        """The shared null session."""
        return self.null

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Nothing to save (Flask does not ask for a null session)."""


class ApiApp(APIFlask):
    """APIFlask without sessions, asking of each view only once whether it is a coroutine.

    Flask asks it on every call of a view (APIFlask's decorators each ask again): the answer
    cannot change for a function, so it is kept per function.
    """

    response_class = ApiResponse
    session_interface = NoSessions()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._synced: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask's answer, kept per function (a bound method is a new object each time)."""
        synced = self._synced.get(func)
        if synced is None:
            synced = super().ensure_sync(func)
            if isinstance(func, FunctionType):
                self._synced[func] = synced
        return synced


def create_api(
    import_name: str,
    *,
    process: Process,
    title: str,
    description: str,
    blueprints: Iterable[APIBlueprint],
    settings: Settings | None = None,
    database: Database | None = None,
    verifier: TokenVerifier | None = None,
    not_found_retry_after: bool = False,
    span_exporter: SpanExporter | None = None,
) -> APIFlask:
    """Build an API: settings (from the environment unless given), its pool, routes.

    A process started by gunicorn passes nothing else:
    ``bootstrap.start`` reads and validates the config and sends logs to stderr as JSON.
    Tests pass their own Settings and, if they like, their own Database, token verifier and
    span exporter.
    """
    runtime = bootstrap.start(process, settings, span_exporter=span_exporter)
    settings = runtime.settings
    if database is None:
        database = runtime.database(process.endpoints[0])

    app = ApiApp(import_name, title=title, version=API_VERSION,
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
    serve_docs_assets(app)
    app.extensions[EXTENSION_KEY] = ApiDependencies(
        settings=settings, storage=bootstrap.storage(database),
        verifier=verifier or bootstrap.token_verifier(settings))
    register_error_handlers(app, not_found_retry_after=not_found_retry_after)
    app.register_blueprint(health)
    blueprints = tuple(blueprints)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    document_access = auth.install(app, blueprints)
    app.spec_processor(lambda spec: document_access(require_request_bodies(spec)))
    register_request_hooks(app, instruments=runtime.metrics, tracing=runtime.tracing)
    return app
