"""Per-request hooks: JSON-only bodies; the order id a request concerns, for its log lines."""

from __future__ import annotations

import io
import json
import re
from typing import Any

from apiflask import APIFlask, HTTPError
from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from order_platform import logs
from order_platform.adapters.metrics import Instruments
from order_platform.adapters.tracing import Tracing
from order_platform.entrypoints.web.access import RequestLog
from order_platform.entrypoints.web.dependencies import ApiDependencies
from order_platform.entrypoints.web.hot_routes import HotRoute, HotRoutes

MAX_BODY_BYTES = 64 * 1024
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_JSON_MIMETYPE = re.compile(r"application/(?:[\w.+-]+\+)?json")


_JSON_BODY = "order_platform.json_body"


def json_body() -> Any:
    """The request's JSON body, as ``_require_json_body`` parsed it (parsed once per request)."""
    return request.environ[_JSON_BODY]


def plain_json_body(environ: dict) -> Any:
    """The body of a request in the form nearly every client sends, parsed as
    ``_require_json_body`` would parse it; None when anything about it is not that form.

    The form: ``Content-Type: application/json`` exactly, a Content-Length of 1 byte to 64 KiB
    and no Transfer-Encoding, that many bytes, and UTF-8 JSON. For anything else the hook
    decides (and answers 400, 413 or 415 where it must). The bytes read are put back, so
    Flask can read the body again when a hot route hands the request on.
    """
    if environ.get("CONTENT_TYPE") != "application/json" or "HTTP_TRANSFER_ENCODING" in environ:
        return None
    size = _length(environ.get("CONTENT_LENGTH") or "")
    if not 0 < size <= MAX_BODY_BYTES:
        return None
    raw = environ["wsgi.input"].read(size)
    environ["wsgi.input"] = io.BytesIO(raw)
    if len(raw) != size:  # the client went away: werkzeug answers that
        return None
    try:
        return _parsed(raw)
    except (ValueError, RecursionError):
        return None


def _length(header: str) -> int:
    """A Content-Length of plain ASCII digits as a number; -1 for anything else, and for one
    past six digits (over any limit here: int() of thousands of digits, zeros too, raises)."""
    digits = header.lstrip("0")
    if not header.isascii() or not header.isdigit() or len(digits) > 6:
        return -1
    return int(digits or "0")


def _parsed(body: bytes) -> Any:
    # UTF-8 only (RFC 8259, section 8.1): json.loads would take UTF-16 and a BOM from bytes.
    return json.loads(body.decode("utf-8"))


def set_order_id(order_id: object) -> None:
    """Tag this request's log lines with the order it concerns."""
    logs.order_id.set(str(order_id))


def register_request_hooks(app: APIFlask, *, instruments: Instruments,
                           tracing: Tracing | None = None, hot_routes: tuple[HotRoute, ...] = (),
                           dependencies: ApiDependencies) -> None:
    """Install the hooks on ``app`` (after its routes); its hot routes, then request ids,
    access lines, metrics and spans wrap it as middleware."""
    app.before_request(_require_json_body)
    inner = HotRoutes(app, hot_routes, dependencies, accounted_hooks=(_require_json_body,)) \
        if hot_routes else app.wsgi_app
    app.wsgi_app = RequestLog(inner, instruments=instruments, tracing=tracing)


def _require_json_body() -> None:
    """415 for a non-JSON body, 413 past 64 KiB, 400 for JSON that does not parse.

    The schema library validates the parsed body; this hook only guarantees there is
    one to validate. Parsing here also catches what its parser would let through as a
    500: numbers over Python's digit limit and nesting deep enough to recurse out. The parsed
    body is kept for ``json_body()``, so a view that reads it there parses nothing again.
    """
    req = request._get_current_object()
    if req.method not in _BODY_METHODS or req.url_rule is None:
        return
    # The header nearly every client sends needs no parsing (werkzeug's parser is Python).
    if req.environ.get("CONTENT_TYPE") != "application/json" \
            and not _JSON_MIMETYPE.fullmatch(req.mimetype or ""):
        raise HTTPError(415, "Content-Type must be application/json.",
                        detail={"content_type": req.mimetype or None})
    body = req.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    if req.content_length is None and len(body) >= MAX_BODY_BYTES \
            and req.environ["wsgi.input"].read(1):
        # A chunked body (no Content-Length) is cut at the limit by werkzeug without an
        # error; a byte beyond it means the client sent more than 64 KiB.
        raise RequestEntityTooLarge()
    try:
        req.environ[_JSON_BODY] = _parsed(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise HTTPError(400, "The request body is not valid JSON.",
                        detail={"json": str(exc)[:200]}, extra_data={"code": "malformed_json"},
                        ) from exc
