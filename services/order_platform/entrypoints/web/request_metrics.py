"""The APIs' request metrics: count and latency by route template, method and status.

Label values come from a closed set (the app's route templates, known methods, three-digit
statuses), never from raw paths, so a scan of random URLs cannot grow the series without
bound. The labelled children are looked up once per combination and kept: ``labels()``
takes a lock and builds a key, which is not worth doing on every request.
"""

from __future__ import annotations

from flask import Request

from order_platform import telemetry
from order_platform.adapters.metrics import Instruments, Observer, adder

UNMATCHED_ROUTE = "unmatched"
"""The route label of a request no route matched (a 404 before any view)."""
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    """The API instruments of one process."""

    def __init__(self, instruments: Instruments) -> None:
        self._requests = instruments[telemetry.HTTP_REQUESTS]
        self._duration = instruments[telemetry.HTTP_DURATION]
        self.in_flight = adder(instruments[telemetry.HTTP_IN_FLIGHT])
        """Add 1 as a request starts; ``record`` takes it off as it ends."""
        self._children: dict[tuple[str, str, int], tuple] = {}

    def record(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration; it is no longer in flight."""
        self.in_flight(-1)
        if method not in _METHODS:
            method = "OTHER"
        key = (route, method, status)
        recorders = self._children.get(key)
        if recorders is None:
            recorders = self._children[key] = (
                adder(self._requests.labels(route, method, str(status))),
                Observer(self._duration.labels(route, method)))
        recorders[0](1)
        recorders[1](seconds)


_REQUEST_KEY = "order_platform.request"
_ROUTE_KEY = "order_platform.route"


class RoutedRequest(Request):
    """Flask's request, kept in the WSGI environ under a key of ours as well: Flask empties
    ``werkzeug.request`` when the request ends, before the middleware counts it by route.
    (Not a property on ``url_rule``: Flask reads that a few times per request.)"""

    def __init__(self, environ: dict, *args, **kwargs) -> None:
        super().__init__(environ, *args, **kwargs)
        environ[_REQUEST_KEY] = self


def mark_route(environ: dict, rule: str) -> None:
    """Record the route template of a request answered outside Flask (``hot_routes``)."""
    environ[_ROUTE_KEY] = rule


def route_of(environ: dict) -> str:
    """The route template the request matched (``/orders/<uuid:order_id>``), after dispatch.

    Called once, as the request ends: it takes the request out of the environ, so that the
    two do not keep each other alive until the garbage collector runs.
    """
    rule = environ.get(_ROUTE_KEY)
    if rule is not None:
        return rule
    request = environ.pop(_REQUEST_KEY, None)
    rule = None if request is None else request.url_rule
    return UNMATCHED_ROUTE if rule is None else rule.rule
