"""A tiny HTTP server for the Kubernetes probes of the worker and the relay, and their metrics.

``/healthz`` (liveness) answers 200 while the process's loops are alive, with no
dependency checks, so a slow database never gets a healthy pod restarted.
``/readyz`` (readiness) answers 200 while the process is not stopping and its
dependencies answer. ``/metrics`` answers Prometheus (the pods are annotated with this port).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from order_platform.telemetry import METRICS_PATH

log = logging.getLogger(__name__)


class ProbeServer:
    """Serves /healthz, /readyz and /metrics on 0.0.0.0:port (the pod's probe port) in a
    thread."""

    def __init__(self, port: int, *, alive: Callable[[], bool], ready: Callable[[], bool],
                 metrics: Callable[[], tuple[bytes, str]] | None = None,
                 host: str = "0.0.0.0") -> None:  # noqa: S104 - kubelet probes the pod IP
        self._alive = alive
        self._ready = ready
        self._metrics = metrics
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="probes",
                                        daemon=True)

    @property
    def port(self) -> int:
        """The bound port (useful when 0 was asked for)."""
        return self._server.server_address[1]

    def start(self) -> ProbeServer:
        """Serve in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        checks = {"/healthz": self._alive, "/readyz": self._ready}
        metrics = self._metrics

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == METRICS_PATH and metrics is not None:
                    self._send_bytes(200, *metrics())
                    return
                check = checks.get(path)
                if check is None:
                    self._send(404, {"status": "not found"})
                    return
                try:
                    ok = bool(check())
                except Exception:  # a probe answers; it never crashes the server
                    log.exception("probe check failed")
                    ok = False
                self._send(200 if ok else 503, {"status": "ok" if ok else "unavailable"})

            def _send(self, status: int, body: dict[str, str]) -> None:
                self._send_bytes(status, json.dumps(body).encode(), "application/json")

            def _send_bytes(self, status: int, payload: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass  # probes every few seconds would drown the logs

        return Handler
