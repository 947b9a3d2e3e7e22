"""Structured JSON logs with request, order and event ids carried in context."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

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
        entry = _head(record.created, record.levelname, record.name, record.getMessage())
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return _encode(entry)


def _head(created: float, level: str, logger: str, message: str) -> dict[str, Any]:
    """What every line starts with, whether it comes from a record or from ``info``."""
    return {"ts": _timestamp(created), "level": level, "logger": logger, "message": message}


def _encode(entry: dict[str, Any]) -> str:
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
    """Adds the service and the ids of the current request or message to every record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in self.context(record.__dict__).items():
            setattr(record, key, value)
        return True

    def context(self, present: dict[str, Any]) -> dict[str, Any]:
        """The fields a line gets from its context: the service, the ids in context that
        ``present`` lacks, and the trace's ids."""
        fields: dict[str, Any] = {"service": self.service}
        for var in (request_id, order_id, event_id):
            value = var.get()
            if value is not None and var.name not in present:
                fields[var.name] = value
        if trace_ids is not None and (ids := trace_ids()) is not None:
            fields["trace_id"], fields["span_id"] = ids
        return fields


class JsonLinesHandler(logging.StreamHandler[TextIO]):
    """``configure_logging``'s one handler: JSON lines with their context, on a stream.

    ``write`` also writes lines that never become a ``LogRecord``, for the line every request
    writes (``info``). Measured in the write API (2026-11-26), building, filtering and
    formatting a record cost about 25 us of the request's CPU; the same line written from
    its fields, a third of that.
    """

    def __init__(self, stream: TextIO, service: str) -> None:
        super().__init__(stream)
        self.setFormatter(JsonLines())
        self.context = _ContextFilter(service)
        self.addFilter(self.context)
        self._alone, self._own_filters = [self], [self.context]

    def serves(self, logger: logging.Logger, level: int) -> bool:
        """True when a record of ``level`` on ``logger`` would reach this handler and no other
        handler, filter or formatter: then ``write`` gives exactly the line it would."""
        if logger.disabled or not logger.isEnabledFor(level) or level < self.level \
                or logger.filters or logging.root.handlers != self._alone \
                or self.filters != self._own_filters or type(self.formatter) is not JsonLines:
            return False
        node: logging.Logger | None = logger
        while node is not logging.root:
            if node is None or node.handlers or not node.propagate:
                return False  # None: a logger outside the hierarchy (logging's last resort)
            node = node.parent
        return True

    def write(self, logger: logging.Logger, level: int, message: str,
              fields: dict[str, Any]) -> None:
        """The line a record of ``level`` with ``message`` and ``extra=fields`` would make."""
        entry = _head(time.time(), logging.getLevelName(level), logger.name, message)
        entry.update(fields)
        entry.update(self.context.context(fields))
        try:
            line = _encode(entry) + self.terminator
            self.acquire()  # the handler's own lock, as emit takes it
            try:
                self.stream.write(line)
                self.stream.flush()
            finally:
                self.release()
        except Exception:  # as StreamHandler.emit does: report, never raise
            self.handleError(logging.makeLogRecord({"name": logger.name, "msg": message}))


_handler: JsonLinesHandler | None = None
"""``configure_logging``'s handler, once it has run."""


def info(logger: logging.Logger, message: str, fields: dict[str, Any]) -> None:
    """``logger.info(message, extra=fields)``, written straight from the fields when the
    process logs through ``configure_logging``'s handler alone (every process we start).
    Anything else (a test's capture, a host's own handlers) gets the record as usual."""
    handler = _handler
    # A field named like a record's own attribute is refused by logging (KeyError): so it is.
    if handler is not None and _STANDARD.isdisjoint(fields) \
            and handler.serves(logger, logging.INFO):
        handler.write(logger, logging.INFO, message, fields)
    else:
        logger.info(message, extra=fields)


def configure_logging(level: str, *, service: str) -> None:
    """Send JSON lines to stderr; call once from a process's composition root."""
    global _handler  # noqa: PLW0603 - the process's one handler, for ``info``
    handler = _handler = JsonLinesHandler(sys.stderr, service)
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
