"""The hot routes' input and output without the per-request machinery of APIFlask's decorators.

``documented(@input(...))``, ``documented(@output(...))`` and ``documented(@doc(...))`` still
describe a route in the OpenAPI document, but their wrappers no longer run per request (even
with ``validation=False`` the input one would parse the body again and copy every header into
a proxy). At run time ``validated`` loads the plainly valid input with a fast check (which
never accepts what the schema refuses: each has a test against marshmallow) and hands
anything else to APIFlask's own parser, so every error is exactly the one the decorators
would have given; ``answer`` serialises with the response schema's compiled plan, into an
``Answer`` that a Flask view returns ``as_response`` and the hot-route layer sends itself. On
the order path this was a sixth of a request's cost.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apiflask import Schema
from apiflask.schema_adapters.marshmallow import parser
from flask import Response, current_app, request
from werkzeug.datastructures import Headers
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.urls import iri_to_uri

from order_platform.entrypoints.web.json_provider import dumps_bytes

View = Callable[..., Any]

CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""A uuid as ``str(uuid.UUID(...))`` writes it: the one spelling the fast checks take (any
other goes to the schema, or to Flask's converter)."""


def documented(decorator: Callable[[View], View]) -> Callable[[View], View]:
    """An APIFlask ``@input`` or ``@output`` for the OpenAPI document only: the view it
    annotates is kept and the per-request wrapper it builds is dropped (the view reads its
    input and builds its response itself)."""
    def apply(view: View) -> View:
        # APIFlask would wrap the view in a function that asks Flask to ensure_sync it on
        # every call; Flask's dispatch does that anyway, so the view itself is annotated.
        view._sync_ensured = True
        decorator(view)  # writes into view._spec, which the OpenAPI document is built from
        return view
    return apply


def validated(schema: Schema, location: str, raw: Any, fast: Callable[[Any], Any | None]) -> Any:
    """``fast(raw)``, or when it is unsure, ``schema`` loaded by APIFlask's parser (which
    answers 422 with the details for invalid input)."""
    loaded = fast(raw)
    if loaded is None:
        loaded = parser.parse(schema, request, location=location)
    return loaded


@dataclass(frozen=True, slots=True)
class Answer:
    """A hot route's JSON response, before either edge sends it: Flask (``as_response``) or
    the hot-route layer (``status_line`` and ``wsgi_headers``), with the same bytes."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    location: str | None = None
    """Already a URI (see ``ApiResponse``)."""

    @property
    def status_line(self) -> str:
        """The status line werkzeug would send (``202 ACCEPTED``)."""
        return _STATUS_LINES.get(self.status) or f"{self.status} UNKNOWN"

    def wsgi_headers(self) -> list[tuple[str, str]]:
        """The headers werkzeug would send for ``as_response()``, in its order (a new list: the
        request log appends to it)."""
        headers = [*self.headers, ("Content-Type", "application/json"),
                   ("Content-Length", str(len(self.body)))]
        if self.location is not None:
            headers.append(("Location", self.location))
        return headers


_STATUS_LINES = {code: f"{code} {text.upper()}" for code, text in HTTP_STATUS_CODES.items()}


def answer(schema: Schema, obj: Any, status: int, headers: tuple[tuple[str, str], ...] = (),
           *, location: str | None = None) -> Answer:
    """The JSON answer ``@output(schema)`` would give for ``obj``, serialised with the schema's
    compiled plan straight to bytes. ``location`` must already be a URI."""
    return Answer(status, dumps_bytes(schema.dump(obj)), headers, location)


def as_response(given: Answer) -> Response:
    """``given`` as the app's response object, for a Flask view."""
    response = current_app.response_class(given.body, given.status, list(given.headers),
                                          mimetype="application/json")
    response.uri_location = given.location
    return response


class ApiResponse(Response):
    """The APIs' response class: Flask's, plus a Location that is already a URI.

    werkzeug converts every ``Location`` header from an IRI on the way out (it splits the
    URL, quotes each part and IDNA-encodes the host): about forty calls on every order placed.
    A Location made of the read API's base URL, converted once (``uri_base``), and an ASCII
    path needs none of that; ``uri_location`` is sent as it is.
    """

    uri_location: str | None = None

    def get_wsgi_headers(self, environ: dict) -> Headers:
        """werkzeug's headers, with ``uri_location`` as the Location."""
        headers = super().get_wsgi_headers(environ)
        if self.uri_location is not None:
            headers["Location"] = self.uri_location
        return headers


@functools.lru_cache(maxsize=8)
def uri_base(url: str) -> str:
    """A configured base URL as a URI without a trailing slash, converted once per URL."""
    return iri_to_uri(url.rstrip("/"))
