"""The hot routes' input and output without the per-request machinery of APIFlask's decorators.

``documented(@input(...))``, ``documented(@output(...))`` and ``documented(@doc(...))`` still
describe a route in the OpenAPI document, but their wrappers no longer run per request (even
with ``validation=False`` the input one would parse the body again and copy every header into
a proxy). At run time ``validated`` loads the plainly valid input with a fast check (which
never accepts what the schema refuses: each has a test against marshmallow) and hands
anything else to APIFlask's own parser, so every error is exactly the one the decorators
would have given; ``respond`` serialises with the response schema's compiled plan. On the
order path this was a sixth of a request's cost.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from apiflask import Schema
from apiflask.schema_adapters.marshmallow import parser
from flask import Response, current_app, request
from werkzeug.datastructures import Headers
from werkzeug.urls import iri_to_uri

View = Callable[..., Any]


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


def respond(schema: Schema, obj: Any, status: int,
            headers: Mapping[str, str] | None = None, *, location: str | None = None) -> Response:
    """The JSON response ``@output(schema)`` would give, built directly (as bytes: the app's
    encoder is orjson, whose bytes need no round trip through str). ``location`` must already
    be a URI (see ``ApiResponse``)."""
    app = current_app._get_current_object()
    response = app.response_class(app.json.dumps_bytes(schema.dump(obj)), status, headers,
                                  mimetype="application/json")
    response.uri_location = location
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
