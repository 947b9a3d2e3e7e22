"""The edge of every request, around the whole app as one WSGI middleware: request id, access
log, metrics, the request's span, and ``/metrics``.

Every request gets an id (the caller's ``X-Request-ID`` when it is safe to echo, else a new
one), every response carries it, and every request writes one JSON access line with it, the
order it concerned, the status and the duration. It is counted by route template and timed,
and, when the process traces, answered inside a server span that continues the caller's
``traceparent``. As middleware rather than Flask hooks it sees every response, routing errors
included, and costs a fraction of the hooks' machinery on the path of every request.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from order_platform import logs, telemetry
from order_platform.adapters import tracing as traces
from order_platform.adapters.metrics import Instruments, may_scrape
from order_platform.adapters.tracing import Tracing
from order_platform.entrypoints.web.request_metrics import RequestMetrics, route_of

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]
access_log = logging.getLogger("order_platform.access")

REQUEST_ID_HEADER = "X-Request-ID"
TRACE_RESPONSE_HEADER = "traceresponse"
"""W3C Trace Context level 2: the request's span, so a client that polls the order sends it
back as ``traceparent`` and its reads join the order's trace."""
_INCOMING = "HTTP_X_REQUEST_ID"
# Echoed into a response header and every log line, so only a safe alphabet is trusted.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _new_id() -> str:
    """32 random hex digits. An id only has to be unique, not unguessable: the generator
    ``random`` reseeds in every forked worker is enough, and costs no system call (uuid4 reads
    the kernel's random source on every request)."""
    return f"{random.getrandbits(128):032x}"


class RequestLog:
    """WSGI middleware: a request id in the log context and the response, one access line,
    the request metrics and span per request; ``/metrics`` for scrapers on private networks."""

    def __init__(self, app: WSGIApplication, *, instruments: Instruments,
                 tracing: Tracing | None = None) -> None:
        self.app = app
        self._instruments = instruments
        self._metrics = RequestMetrics(instruments)
        self._tracing = tracing

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request."""
        if environ.get("PATH_INFO") == telemetry.METRICS_PATH \
                and may_scrape(environ.get("REMOTE_ADDR")):
            return self._scrape(start_response)
        incoming = environ.get(_INCOMING)
        request_id = incoming if incoming and _REQUEST_ID.fullmatch(incoming) else _new_id()
        # gthread workers reuse threads: reset what a previous request left behind.
        logs.request_id.set(request_id)
        logs.order_id.set(None)
        started = time.perf_counter()
        answered: list[str] = []

        def start(status: str, headers: list[tuple[str, str]],
                  exc_info: ExcInfo | None = None) -> Any:
            answered.append(status)
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        if self._tracing is not None:
            return self._traced(self._tracing, environ, start, request_id=request_id,
                                answered=answered, started=started)
        self._metrics.started()
        try:
            return self.app(environ, start)
        finally:
            self._finish(environ, request_id, answered, started)

    def _traced(self, tracing: Tracing, environ: WSGIEnvironment, start: StartResponse, *,
                request_id: str, answered: list[str], started: float) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        span = tracing.tracer.start_span(
            method, context=traces.parent(environ.get("HTTP_TRACEPARENT")), kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "order_platform.request_id": request_id})
        token = otel_context.attach(trace.set_span_in_context(span))
        traceresponse = traces.current_traceparent()

        def start_traced(status: str, headers: list[tuple[str, str]],
                         exc_info: ExcInfo | None = None) -> Any:
            if traceresponse:
                headers.append((TRACE_RESPONSE_HEADER, traceresponse))
            return start(status, headers, exc_info)

        self._metrics.started()
        try:
            return self.app(environ, start_traced)
        finally:
            status, route = self._finish(environ, request_id, answered, started)
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", status)
            if (order_id := logs.order_id.get()) is not None:
                span.set_attribute("order_platform.order_id", order_id)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            span.end()
            otel_context.detach(token)

    def _finish(self, environ: WSGIEnvironment, request_id: str, answered: list[str],
                started: float) -> tuple[int, str]:
        seconds = time.perf_counter() - started
        status = int(answered[0][:3]) if answered else 500
        route = route_of(environ)
        method = environ.get("REQUEST_METHOD", "")
        self._metrics.record(route, method, status, seconds)
        extra = {"request_id": request_id, "method": method, "path": environ.get("PATH_INFO"),
                 "status": status, "duration_ms": round(seconds * 1000, 2),
                 "remote_addr": environ.get("REMOTE_ADDR")}
        order_id = logs.order_id.get()
        if order_id is not None:
            extra["order_id"] = order_id
        logs.info(access_log, f"{method} {extra['path']} {status}", extra)
        return status, route

    def _scrape(self, start_response: StartResponse) -> Iterable[bytes]:
        body, content_type = self._instruments.exposition()
        start_response("200 OK", [("Content-Type", content_type),
                                  ("Content-Length", str(len(body)))])
        return [body]
