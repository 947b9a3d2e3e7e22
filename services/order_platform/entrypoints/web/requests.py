"""Per-request hooks: JSON-only bodies; the order id a request concerns, for its log lines."""

from __future__ import annotations

import json
import re
from typing import Any, cast

from apiflask import APIFlask, HTTPError
from flask import Request, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.local import LocalProxy

from order_platform import logs
from order_platform.adapters.metrics import Instruments
from order_platform.adapters.tracing import Tracing
from order_platform.entrypoints.web.access import RequestLog

MAX_BODY_BYTES = 64 * 1024
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_JSON_MIMETYPE = re.compile(r"application/(?:[\w.+-]+\+)?json")


def _parsed(body: bytes) -> Any:
    # UTF-8 only (RFC 8259, section 8.1): json.loads would take UTF-16 and a BOM from bytes.
    return json.loads(body.decode("utf-8"))


def set_order_id(order_id: object) -> None:
    """Tag this request's log lines with the order it concerns."""
    logs.order_id.set(str(order_id))


def register_request_hooks(app: APIFlask, *, instruments: Instruments,
                           tracing: Tracing | None = None) -> None:
    """Install the hooks on ``app`` (after its routes); request ids, access lines, metrics
    and spans wrap it as middleware."""
    app.before_request(_require_json_body)
    app.wsgi_app = RequestLog(app.wsgi_app, instruments=instruments,  # type: ignore[method-assign]
                              tracing=tracing)


def _require_json_body() -> None:
    """415 for a non-JSON body, 413 past 64 KiB, 400 for JSON that does not parse.

    The schema (``@input``) validates the parsed body; this hook only guarantees there is
    one to validate. Parsing here also catches what its parser would let through as a
    500: numbers over Python's digit limit and nesting deep enough to recurse out.
    """
    # The request itself, not its proxy, for what follows (werkzeug's documented way).
    req = cast("LocalProxy[Request]", request)._get_current_object()
    if req.method not in _BODY_METHODS or req.url_rule is None:
        return
    # The header nearly every client sends needs no parsing (werkzeug's parser is Python).
    if req.environ.get("CONTENT_TYPE") != "application/json" \
            and not _JSON_MIMETYPE.fullmatch(req.mimetype or ""):
        raise HTTPError(415, "Content-Type must be application/json.",
                        detail={"content_type": req.mimetype or None})
    # MAX_CONTENT_LENGTH's value, set on the request (Flask's per-request limit): the config
    # is otherwise read through current_app, a proxy, each time werkzeug asks for it.
    req.max_content_length = MAX_BODY_BYTES
    body = req.get_data(cache=True)  # raises 413 past it
    if req.content_length is None and len(body) >= MAX_BODY_BYTES \
            and req.environ["wsgi.input"].read(1):
        # A chunked body (no Content-Length) is cut at the limit by werkzeug without an
        # error; a byte beyond it means the client sent more than 64 KiB.
        raise RequestEntityTooLarge()
    try:
        _parsed(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise HTTPError(400, "The request body is not valid JSON.",
                        detail={"json": str(exc)[:200]}, extra_data={"code": "malformed_json"},
                        ) from exc
