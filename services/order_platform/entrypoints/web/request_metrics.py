"""The APIs' request metrics: count and latency by route template, method and status.

Label values come from a closed set (the app's route templates, known methods, three-digit
statuses), never from raw paths, so a scan of random URLs cannot grow the series without
bound. The labelled children are looked up once per combination and kept: ``labels()``
takes a lock and builds a key, which is not worth doing on every request.
"""

from __future__ import annotations

from typing import Any

from flask import Request
from prometheus_client import Counter, Histogram

from order_platform import telemetry
from order_platform.adapters.metrics import Instruments

UNMATCHED_ROUTE = "unmatched"
"""The route label of a request no route matched (a 404 before any view)."""
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    """The API instruments of one process."""

    def __init__(self, instruments: Instruments) -> None:
        self._requests = instruments.counter(telemetry.HTTP_REQUESTS)
        self._duration = instruments.histogram(telemetry.HTTP_DURATION)
        self._in_flight = instruments.gauge(telemetry.HTTP_IN_FLIGHT)
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def started(self) -> None:
        """A request is in flight until ``record`` counts it."""
        self._in_flight.inc()

    def record(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration; it is no longer in flight."""
        self._in_flight.dec()
        if method not in _METHODS:
            method = "OTHER"
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self._requests.labels(route, method, str(status)),
                self._duration.labels(route, method))
        children[0].inc()
        children[1].observe(seconds)


_REQUEST_KEY = "order_platform.request"


class RoutedRequest(Request):
    """Flask's request, kept in the WSGI environ under a key of ours as well: Flask empties
    ``werkzeug.request`` when the request ends, before the middleware counts it by route.
    (Not a property on ``url_rule``: Flask reads that a few times per request.)"""

    def __init__(self, environ: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(environ, *args, **kwargs)
        environ[_REQUEST_KEY] = self


def route_of(environ: dict[str, Any]) -> str:
    """The route template the request matched (``/orders/<uuid:order_id>``), after dispatch.

    Called once, as the request ends: it takes the request out of the environ, so that the
    two do not keep each other alive until the garbage collector runs.
    """
    request = environ.pop(_REQUEST_KEY, None)
    rule = None if request is None else request.url_rule
    return UNMATCHED_ROUTE if rule is None else rule.rule
