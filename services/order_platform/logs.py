"""Structured JSON logs with request, order and event ids carried in context."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Callable

import orjson

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
order_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("order_id", default=None)
event_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("event_id", default=None)
trace_ids: Callable[[], tuple[str, str] | None] | None = None
"""Set by ``adapters.tracing`` once the process traces: the current (trace_id, span_id)."""


# What every LogRecord has; anything else on a record came from ``extra=`` and is logged.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonLines(logging.Formatter):
    """One JSON object per record: ts, level, logger, message, then every ``extra`` field.

    Hand-written because it runs on every request: a generic JSON formatter spends more on
    introspection than this spends on the whole line.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry = {"ts": _timestamp(record.created), "level": record.levelname,
                 "logger": record.name, "message": record.getMessage()}
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(entry, default=str).decode()
        except (orjson.JSONEncodeError, TypeError):  # a lone surrogate, a huge integer
            return json.dumps(entry, default=str, ensure_ascii=False)


_second: tuple[int, str] = (0, "")
"""The last second formatted, and its text (one tuple: threads swap it whole)."""


def _timestamp(created: float) -> str:
    """``2026-11-26 12:00:00,123``, formatting the seconds once per second."""
    global _second  # noqa: PLW0603 - a one-entry cache
    second = int(created)
    cached = _second
    if cached[0] != second:
        cached = _second = (second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second)))
    return f"{cached[1]},{int((created - second) * 1000):03d}"


class _ContextFilter(logging.Filter):
    """Adds the ids of the current request or message to every record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        for var in (request_id, order_id, event_id):
            value = var.get()
            if value is not None and not hasattr(record, var.name):
                setattr(record, var.name, value)
        if trace_ids is not None and (ids := trace_ids()) is not None:
            record.trace_id, record.span_id = ids
        return True


def configure_logging(level: str, *, service: str) -> None:
    """Send JSON lines to stderr; call once from a process's composition root."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    handler.addFilter(_ContextFilter(service))
    # A line carries none of what logging looks up for every record by default: the caller's
    # file and line (a walk up the stack), the thread, the process (the logging HOWTO's
    # "Optimization" settings). Every request writes a line, so this is paid per request.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("botocore").setLevel("WARNING")
    logging.getLogger("urllib3").setLevel("WARNING")
