"""Per-request hooks: request id, JSON-only bodies, and one structured access log line."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from apiflask import APIFlask, HTTPError
from flask import g, request
from werkzeug.exceptions import RequestEntityTooLarge

from order_platform import logs

access_log = logging.getLogger("order_platform.access")

MAX_BODY_BYTES = 64 * 1024
REQUEST_ID_HEADER = "X-Request-ID"
# Echoed into a response header and every log line, so only a safe alphabet is trusted.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_JSON_MIMETYPE = re.compile(r"application/(?:[\w.+-]+\+)?json")


def set_order_id(order_id: object) -> None:
    """Tag this request's log lines with the order it concerns."""
    logs.order_id.set(str(order_id))


def register_request_hooks(app: APIFlask) -> None:
    """Install the hooks on ``app``."""
    app.before_request(_start)
    app.before_request(_require_json_body)
    app.after_request(_finish)


def _start() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    g.started = time.perf_counter()
    # gthread workers reuse threads: reset what a previous request left behind.
    logs.request_id.set(g.request_id)
    logs.order_id.set(None)


def _require_json_body() -> None:
    """415 for a non-JSON body, 413 past 64 KiB, 400 for JSON that does not parse.

    The schema library validates the parsed body; this hook only guarantees there is
    one to validate. Parsing here also catches what its parser would let through as a
    500: numbers over Python's digit limit and nesting deep enough to recurse out.
    """
    if request.method not in _BODY_METHODS or request.url_rule is None:
        return
    if not _JSON_MIMETYPE.fullmatch(request.mimetype or ""):
        raise HTTPError(415, "Content-Type must be application/json.",
                        detail={"content_type": request.mimetype or None})
    body = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    if request.content_length is None and len(body) >= MAX_BODY_BYTES \
            and request.environ["wsgi.input"].read(1):
        # A chunked body (no Content-Length) is cut at the limit by werkzeug without an
        # error; a byte beyond it means the client sent more than 64 KiB.
        raise RequestEntityTooLarge()
    try:
        json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise HTTPError(400, "The request body is not valid JSON.",
                        detail={"json": str(exc)[:200]}, extra_data={"code": "malformed_json"},
                        ) from exc


def _finish(response):
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = request_id
    started = g.get("started")
    duration_ms = round((time.perf_counter() - started) * 1000, 2) if started else None
    extra = {
        "request_id": request_id,
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "duration_ms": duration_ms,
        "remote_addr": request.remote_addr,
    }
    if logs.order_id.get() is not None:
        extra["order_id"] = logs.order_id.get()
    access_log.info("%s %s %s", request.method, request.path, response.status_code,
                    extra=extra)
    return response
