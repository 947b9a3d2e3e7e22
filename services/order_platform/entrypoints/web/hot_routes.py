"""The hottest routes, answered without Flask's per-request machinery when a request is plain.

Flask owns every route: the url map, the OpenAPI document, the body checks and every error.
For ``POST /orders`` and ``GET /orders/<uuid>``, a request that is plain in every part (the
exact method and path, a ``Content-Type: application/json`` body of a stated length that
parses, input the fast checks accept) is answered by the route's own work function, the one
its Flask view calls, without a request context, a url adapter, hooks or a response object.
That machinery was what kept the APIs at 0.80-0.87 of a bare Flask app's CPU per request once
everything else was cheap; without it they are at about 1.0 (``docs/performance.md``).

The rules that keep the two ways one:
- a hot handler that is unsure returns None before it does anything, and Flask serves the
  request from the start;
- an exception raised once the work has begun goes to Flask's error handlers, inside a
  request context, exactly as if the view had raised it;
- a hot route names its Flask rule, and the app refuses to start when no such rule answers
  that method, or when it has a request hook (or host checks) the hot layer would skip;
- a websocket upgrade, which werkzeug routes differently, always goes to Flask.

``tests/integration/api/test_hot_routes.py`` sends the same requests both ways and compares
status, headers and body.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from flask import Flask

from order_platform.entrypoints.web.dependencies import ApiDependencies
from order_platform.entrypoints.web.fast_io import CANONICAL_UUID, Answer
from order_platform.entrypoints.web.request_metrics import mark_route

Handler = Callable[..., Answer | None]
"""``handler(dependencies, environ, *path_args)``: the answer, or None when unsure."""


@dataclass(frozen=True)
class HotRoute:
    """One Flask rule's plain requests, answered by ``handler``."""

    method: str
    rule: str
    """The Flask rule it serves (``/orders/<uuid:order_id>``): also its metrics label."""
    match: Callable[[str], tuple | None]
    """The path's arguments for ``handler``, or None when the path is not plainly this rule's."""
    handler: Handler


def exact(path: str) -> Callable[[str], tuple | None]:
    """Matches ``path`` itself, with no arguments."""
    return lambda candidate: () if candidate == path else None


def uuid_after(prefix: str) -> Callable[[str], tuple | None]:
    """Matches ``prefix`` and a canonical (lower-case) uuid, as werkzeug's ``uuid`` converter
    would give it. Any other spelling is Flask's to route."""
    start = len(prefix)

    def match(candidate: str) -> tuple | None:
        if candidate.startswith(prefix) and CANONICAL_UUID.fullmatch(candidate, start):
            return (uuid.UUID(candidate[start:]),)
        return None
    return match


class HotRoutes:
    """WSGI layer in front of a Flask app: its hot routes' plain requests, then Flask."""

    def __init__(self, app: Flask, routes: Iterable[HotRoute], dependencies: ApiDependencies,
                 *, accounted_hooks: Collection[Callable] = ()) -> None:
        """``accounted_hooks``: the app's ``before_request`` functions whose work the hot
        handlers do themselves; any other hook, and any host checking, stops the app."""
        _require_plain_requests(app, accounted_hooks)
        self.app = app
        self.flask = app.wsgi_app
        """Flask's own WSGI callable: every request that is not answered here."""
        self._dependencies = dependencies
        self._by_method: dict[str, tuple[HotRoute, ...]] = {}
        for route in routes:
            _require_rule(app, route)
            self._by_method[route.method] = (*self._by_method.get(route.method, ()), route)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Serve one request."""
        if "HTTP_UPGRADE" in environ:  # werkzeug routes it as a websocket: Flask refuses it
            return self.flask(environ, start_response)
        for route in self._by_method.get(environ.get("REQUEST_METHOD"), ()):
            args = route.match(environ.get("PATH_INFO", ""))
            if args is not None:
                return self._serve(route, args, environ, start_response)
        return self.flask(environ, start_response)

    def _serve(self, route: HotRoute, args: tuple, environ: dict,
               start_response: Callable) -> Iterable[bytes]:
        try:
            answered = route.handler(self._dependencies, environ, *args)
        except Exception as exc:  # Flask's error handlers decide
            return self._flask_error(exc, environ, start_response)
        if answered is None:
            return self.flask(environ, start_response)
        mark_route(environ, route.rule)
        start_response(answered.status_line, answered.wsgi_headers())
        return [answered.body]

    def _flask_error(self, raised: Exception, environ: dict,
                     start_response: Callable) -> Iterable[bytes]:
        """The response Flask gives when a view raises ``raised``: what ``Flask.wsgi_app`` and
        ``full_dispatch_request`` do around a view that raised. Called while ``raised`` is
        being handled: with no handler for it, Flask re-raises it."""
        app = self.app
        ctx = app.request_context(environ)
        error: BaseException | None = None
        try:
            try:
                ctx.push()
                response = app.finalize_request(app.handle_user_exception(raised))
            except Exception as exc:  # what Flask.wsgi_app does
                error = exc
                response = app.handle_exception(exc)
            return response(environ, start_response)
        finally:
            if error is not None and app.should_ignore_error(error):
                error = None
            ctx.pop(error)


def _require_plain_requests(app: Flask, accounted_hooks: Collection[Callable]) -> None:
    """Refuse an app whose requests need work the hot layer does not do: a request hook it
    does not account for (a CORS or security-header hook would silently miss every hot
    response), or the host checks of ``TRUSTED_HOSTS``, ``SERVER_NAME`` or host matching."""
    hooks = {
        "before_request": [f for funcs in app.before_request_funcs.values() for f in funcs
                           if f not in accounted_hooks],
        "after_request": [f for funcs in app.after_request_funcs.values() for f in funcs],
        "teardown_request": [f for funcs in app.teardown_request_funcs.values() for f in funcs],
        "url_value_preprocessor": [f for funcs in app.url_value_preprocessors.values()
                                   for f in funcs],
        "teardown_appcontext": list(app.teardown_appcontext_funcs),
    }
    unaccounted = {kind: [getattr(f, "__qualname__", repr(f)) for f in funcs]
                   for kind, funcs in hooks.items() if funcs}
    if unaccounted:
        raise ValueError(f"hot routes: the app has request hooks they would skip: {unaccounted}")
    hosts = {key: app.config.get(key) for key in ("TRUSTED_HOSTS", "SERVER_NAME")
             if app.config.get(key)}
    if hosts or app.url_map.host_matching:
        raise ValueError(f"hot routes: the app checks hosts, which they would skip: {hosts}")


def _require_rule(app: Flask, route: HotRoute) -> None:
    for rule in app.url_map.iter_rules():
        if rule.rule == route.rule and route.method in (rule.methods or ()):
            return
    raise ValueError(f"hot route {route.method} {route.rule}: the app has no such rule")
