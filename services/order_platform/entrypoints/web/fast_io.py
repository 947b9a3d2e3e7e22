"""The hot routes' input and output without the per-request machinery of APIFlask's decorators.

``@input(..., validation=False)`` and ``@output(...)`` still document a route in the OpenAPI
description; at run time ``validated`` loads the plainly valid input with a fast check (which
never accepts what the schema refuses: each has a test against marshmallow) and hands
anything else to APIFlask's own parser, so every error is exactly the one the decorators
would have given; ``respond`` serialises with the response schema's compiled plan. On the
order path this was a sixth of a request's cost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from apiflask import Schema
from apiflask.schema_adapters.marshmallow import parser
from flask import Response, current_app, request


def validated(schema: Schema, location: str, raw: Any, fast: Callable[[Any], Any | None]) -> Any:
    """``fast(raw)``, or when it is unsure, ``schema`` loaded by APIFlask's parser (which
    answers 422 with the details for invalid input)."""
    loaded = fast(raw)
    if loaded is None:
        loaded = parser.parse(schema, request, location=location)
    return loaded


def respond(schema: Schema, obj: Any, status: int,
            headers: Mapping[str, str] | None = None) -> Response:
    """The JSON response ``@output(schema)`` would give, built directly."""
    return current_app.response_class(current_app.json.dumps(schema.dump(obj)), status,
                                      headers, mimetype="application/json")
