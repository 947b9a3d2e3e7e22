"""Who is calling: one hook checks the bearer token of every request to a route that wants one,
before the view (and its body or query parsing) runs.

Each API route says who may call it with ``@allow``: ``PUBLIC``, any verified ``CALLER``, or
a ``Role``. The same declaration drives the check here and the operation's ``security`` and
401/403 responses in the OpenAPI document, so the two cannot drift; ``create_api`` refuses to
start when a route of an API blueprint declares nothing. Errors follow RFC 6750: a request
without a token gets ``WWW-Authenticate: Bearer realm=...`` (no error code, section 3.1), a
refused token ``error="invalid_token"``, a token without the role ``error="insufficient_scope"``
with the scope that grants it, each in the APIs' usual JSON error body.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from apiflask import APIBlueprint, APIFlask, HTTPError
from flask import Request, g, request
from werkzeug.local import LocalProxy

from order_platform.domain.access import Caller, Role, TokenRejected, scope_of
from order_platform.entrypoints.web.dependencies import dependencies

log = logging.getLogger(__name__)

BEARER = "BearerAuth"
SECURITY_SCHEMES = {BEARER: {
    "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
    "description": "An OAuth 2.0 access token (JWT) from the platform's issuer: "
                   "`make token CUSTOMER=alice` locally, the user pool on AWS (docs/api.md)."}}
REALM = "order-platform"
_ACCESS = "order_platform_access"
_CALLER = "order_platform_caller"
_UNQUOTABLE = re.compile(r'["\\\x00-\x1f\x7f-\uffff]')
_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

View = TypeVar("View", bound=Callable[..., Any])


@dataclass(frozen=True)
class Access:
    """Who may call a route: anyone, or a verified token, holding ``role`` if one is named."""

    token: bool
    role: Role | None = None


PUBLIC = Access(token=False)
CALLER = Access(token=True)


def allow(who: Access | Role) -> Callable[[View], View]:
    """Declare who may call the view; put it nearest the function, under ``@input``."""
    access = Access(token=True, role=who) if isinstance(who, Role) else who

    def declare(view: View) -> View:
        setattr(view, _ACCESS, access)  # functools.wraps carries it to APIFlask's wrappers
        return view

    return declare


def caller() -> Caller:
    """The verified caller of this request (a route that allows ``CALLER`` or a role)."""
    return cast(Caller, getattr(_request_globals(), _CALLER))


def _request_globals() -> Any:
    """Flask's ``g`` itself, not its proxy (see ``_authenticate``)."""
    return cast("LocalProxy[Any]", g)._get_current_object()


def _access(view: Any) -> Access | None:
    return cast(Access | None, getattr(view, _ACCESS, None))


def _challenge(**params: str) -> dict[str, str]:
    fields = [f'realm="{REALM}"'] + [f'{k}="{_UNQUOTABLE.sub("", v)}"' for k, v in params.items()]
    return {"WWW-Authenticate": "Bearer " + ", ".join(fields)}


def _authenticate(app: APIFlask) -> None:
    # The request itself, not its proxy (werkzeug's documented way): an attribute read
    # through a proxy raises and catches an AttributeError before it looks the request up.
    req = cast("LocalProxy[Request]", request)._get_current_object()
    access = _access(app.view_functions.get(req.endpoint or ""))
    if access is None or not access.token:
        return
    scheme, _, token = req.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise HTTPError(401, "This operation needs a bearer token: Authorization: Bearer <token>.",
                        headers=_challenge(), extra_data={"code": "missing_token"})
    try:
        who = dependencies(app).verifier.verify(token)
    except TokenRejected as exc:
        log.info("bearer token refused: %s", exc)
        raise HTTPError(401, f"The bearer token was refused: {exc}.",
                        headers=_challenge(error="invalid_token", error_description=str(exc)),
                        extra_data={"code": "invalid_token"}) from None
    if access.role is not None and not who.has(access.role):
        scope = scope_of(access.role)
        raise HTTPError(403, f"This operation needs the {access.role.value} role (group "
                             f"{access.role.value}, or scope {scope}).",
                        headers=_challenge(error="insufficient_scope", scope=scope),
                        extra_data={"code": "insufficient_scope"})
    setattr(_request_globals(), _CALLER, who)


def _error(description: str, challenge: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/ErrorResponse"}}},
            "headers": {"WWW-Authenticate": {"description": challenge, "required": True,
                                             "schema": {"type": "string"}}}}


_UNAUTHORIZED = _error("No bearer token, or one that was refused (expired, not yet valid, "
                       "from another issuer or audience, or badly signed).",
                       'Bearer realm="order-platform"[, error="invalid_token"]')
_FORBIDDEN = _error("The token is valid but lacks the role this operation needs.",
                    'Bearer realm="order-platform", error="insufficient_scope", scope="..."')


def _document(app: APIFlask, spec: dict[str, Any]) -> dict[str, Any]:
    """Mark each operation that wants a token with the scheme and its 401 (and 403)."""
    for rule in app.url_map.iter_rules():
        access = _access(app.view_functions.get(rule.endpoint))
        if access is None or not access.token:
            continue
        operations = spec.get("paths", {}).get(_PARAMETER.sub(r"{\1}", rule.rule), {})
        for method in rule.methods or ():
            operation = operations.get(method.lower())
            if not isinstance(operation, dict):
                continue
            operation["security"] = [{BEARER: []}]
            responses = operation.setdefault("responses", {})
            responses["401"] = _UNAUTHORIZED
            if access.role is not None:
                responses["403"] = _FORBIDDEN
    return spec


def install(app: APIFlask, blueprints: Iterable[APIBlueprint]) -> Callable[[Any], Any]:
    """Check every route of ``blueprints`` declares its callers, hook the check in (install
    it before the other hooks: a caller is refused before its body is read), and return the
    spec step that documents it."""
    names = {bp.name for bp in blueprints}
    undeclared = [endpoint for endpoint, view in app.view_functions.items()
                  if endpoint.partition(".")[0] in names and _access(view) is None]
    if undeclared:
        raise TypeError(f"routes without @allow (who may call them): {sorted(undeclared)}")
    app.config["SECURITY_SCHEMES"] = SECURITY_SCHEMES
    app.before_request(lambda: _authenticate(app))
    return lambda spec: spec if isinstance(spec, str) else _document(app, spec)
