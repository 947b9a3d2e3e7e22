"""One place that turns every failure into {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
from typing import Any

import psycopg2
import psycopg2.errors
from apiflask import APIFlask, HTTPError
from apiflask.types import ResponseHeaderType

from order_platform.adapters.credentials import CredentialsError
from order_platform.adapters.deadlines import DeadlineExceeded
from order_platform.domain import errors as domain
from order_platform.entrypoints.web.requests import MAX_BODY_BYTES, set_order_id

log = logging.getLogger(__name__)

Reply = tuple[dict[str, Any], int, ResponseHeaderType]
"""An error response: the body, the status and the headers."""

READ_RETRY_AFTER_SECONDS = 1
"""What a 404 on the read API suggests: replica lag is normally well under a second."""
UNAVAILABLE_RETRY_AFTER_SECONDS = 5
TIMEOUT_RETRY_AFTER_SECONDS = 2
"""A statement cancelled by statement_timeout or lock_timeout: contention usually clears fast."""

_DOMAIN_STATUS: dict[type[domain.DomainError], int] = {
    domain.UnknownProducts: 422,
    domain.DuplicateProductLines: 422,
    # The same body succeeds or fails depending on the stock now: a conflict with the
    # resource's state, not an invalid body.
    domain.StockOutOfRange: 409,
    domain.IdempotencyKeyReused: 409,
    domain.SkuAlreadyExists: 409,
    domain.NotFound: 404,
}

_CODE_BY_STATUS = {
    400: "malformed_request",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    500: "internal_error",
    503: "unavailable",
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The JSON body of every error response."""
    return {"error": {"code": code, "message": message,
                      "details": {} if details is None else details}}


def _status_of(exc: domain.DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in _DOMAIN_STATUS:
            return _DOMAIN_STATUS[cls]
    return 422


def register_error_handlers(app: APIFlask, *, not_found_retry_after: bool) -> None:
    """Map apiflask/werkzeug errors, domain errors and unexpected failures to JSON.

    ``not_found_retry_after`` marks 404s of well-formed ids with ``Retry-After``: on
    the read API a missing row may simply not have replicated yet.
    """

    @app.error_processor
    def http_error(error: HTTPError) -> Reply:
        # Validation errors, abort(), and every werkzeug HTTPException (404, 405, 413...).
        code = error.extra_data.get("code") or _CODE_BY_STATUS.get(
            error.status_code, "http_error")
        message = error.message or ""
        if error.status_code == 422 and not error.extra_data.get("code"):
            message = "The request is well-formed but invalid; see details."
        elif error.status_code == 413:
            message = f"The request body exceeds {MAX_BODY_BYTES // 1024} KiB."
        return error_body(code, message, error.detail or None), error.status_code, error.headers

    @app.errorhandler(domain.DomainError)
    def domain_error(exc: domain.DomainError) -> Reply:
        if isinstance(exc.details, dict) and exc.details.get("order_id"):
            # e.g. a reused Idempotency-Key: the access log names the order it belongs to.
            set_order_id(exc.details["order_id"])
        headers: dict[str, str] = {}
        if isinstance(exc, domain.NotFound) and exc.may_appear and not_found_retry_after:
            headers["Retry-After"] = str(READ_RETRY_AFTER_SECONDS)
        return error_body(exc.code, exc.message, exc.details), _status_of(exc), headers

    # Registered for the subclasses, so Flask picks these over OperationalError's handler.
    @app.errorhandler(psycopg2.errors.QueryCanceled)
    @app.errorhandler(psycopg2.errors.LockNotAvailable)
    @app.errorhandler(DeadlineExceeded)
    def database_timeout(exc: psycopg2.OperationalError) -> Reply:
        limit = {psycopg2.errors.LockNotAvailable: "lock_timeout",
                 DeadlineExceeded: "client_deadline"}.get(type(exc), "statement_timeout")
        log.warning("database %s: %s", limit, str(exc).strip())
        return (error_body("database_timeout", "The database did not answer in time; retry later.",
                           {"limit": limit}),
                503, {"Retry-After": str(TIMEOUT_RETRY_AFTER_SECONDS)})

    # Down, restarting, or failing over (the writer endpoint briefly names a reader).
    @app.errorhandler(psycopg2.OperationalError)
    @app.errorhandler(psycopg2.InterfaceError)
    @app.errorhandler(psycopg2.errors.ReadOnlySqlTransaction)
    @app.errorhandler(CredentialsError)
    def database_unavailable(exc: Exception) -> Reply:
        log.error("database unavailable: %s", exc)
        return (error_body("unavailable", "The database is unavailable; retry later."), 503,
                {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)})

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Reply:
        log.exception("unhandled error")
        return error_body("internal_error", "Internal server error."), 500, {}
