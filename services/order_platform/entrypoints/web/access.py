"""Request ids and the access log, around the whole app: one WSGI middleware.

Every request gets an id (the caller's ``X-Request-ID`` when it is safe to echo, else a new
one), every response carries it, and every request writes one JSON access line with it, the
order it concerned, the status and the duration. As middleware rather than Flask hooks it
sees every response, routing errors included, and costs a fraction of the hooks' machinery
on the path of every request.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable

from order_platform import logs

access_log = logging.getLogger("order_platform.access")

REQUEST_ID_HEADER = "X-Request-ID"
_INCOMING = "HTTP_X_REQUEST_ID"
# Echoed into a response header and every log line, so only a safe alphabet is trusted.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestLog:
    """WSGI middleware: a request id in the log context and the response, and one access
    line per request."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Serve one request."""
        incoming = environ.get(_INCOMING, "")
        request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        # gthread workers reuse threads: reset what a previous request left behind.
        logs.request_id.set(request_id)
        logs.order_id.set(None)
        started = time.perf_counter()
        answered: list[str] = []

        def start(status: str, headers: list, exc_info=None):
            answered.append(status)
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, start)
        finally:
            self._log(environ, request_id, answered, started)

    @staticmethod
    def _log(environ: dict, request_id: str, answered: list[str], started: float) -> None:
        status = int(answered[0].split(" ", 1)[0]) if answered else 500
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        extra = {"request_id": request_id, "method": method, "path": path, "status": status,
                 "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                 "remote_addr": environ.get("REMOTE_ADDR")}
        order_id = logs.order_id.get()
        if order_id is not None:
            extra["order_id"] = order_id
        access_log.info("%s %s %s", method, path, status, extra=extra)
