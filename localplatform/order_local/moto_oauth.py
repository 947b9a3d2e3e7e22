"""Cognito's OAuth 2.0 token endpoint (client credentials), which moto does not serve.

``POST /oauth2/token`` on the emulator answers a machine client as Cognito's hosted endpoint
does: the client's id and secret (HTTP Basic or form fields), ``client_credentials`` among its
allowed flows, the requested scopes among its allowed ones, and an access token of Cognito's
shape signed with the pool's own key (so the APIs verify it against the pool's JWKS, as on AWS).

moto internals live here and nowhere else: its Cognito backends, a client's ``secret`` and
``extended_config``, a pool's ``json_web_key``. ``tests/localplatform/test_moto_oauth.py`` fails
loudly on a moto upgrade that moves them.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, unquote

from joserfc import jwt
from moto.cognitoidp.models import cognitoidp_backends

TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path, not a secret
TOKEN_SECONDS = 3600
_MAX_BODY = 16 * 1024

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _find_client(client_id: str) -> tuple[str, Any, Any] | None:
    """(region, pool, client) of an app client, in whichever account and region holds it."""
    for _account, regions in cognitoidp_backends.items():
        for region, backend in regions.items():
            for pool in backend.user_pools.values():
                if client_id in pool.clients:
                    return region, pool, pool.clients[client_id]
    return None


def _credentials(environ: dict, form: dict[str, str]) -> tuple[str, str]:
    """The client id and secret, from the Basic header (Cognito's way) or the form."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip()).decode()
        except ValueError:
            return "", ""
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret)
    return form.get("client_id", ""), form.get("client_secret", "")


def _answer(start: StartResponse, status: str, body: dict) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                   ("Cache-Control", "no-store")])
    return [data]


def _error(start: StartResponse, status: str, code: str) -> Iterable[bytes]:
    return _answer(start, status, {"error": code})


def token_endpoint(environ: dict, start: StartResponse) -> Iterable[bytes]:
    """Answer one client-credentials token request."""
    size = int(environ.get("CONTENT_LENGTH") or 0)
    if size > _MAX_BODY:
        return _error(start, "400 Bad Request", "invalid_request")
    raw = environ["wsgi.input"].read(size).decode("utf-8", "replace")
    form = {key: values[0] for key, values in parse_qs(raw).items()}
    if form.get("grant_type") != "client_credentials":
        return _error(start, "400 Bad Request", "unsupported_grant_type")
    client_id, secret = _credentials(environ, form)
    found = _find_client(client_id) if client_id else None
    if found is None or not found[2].generate_secret or not hmac.compare_digest(
            found[2].secret.encode(), secret.encode()):
        return _error(start, "401 Unauthorized", "invalid_client")
    region, pool, client = found
    config = client.extended_config
    if "client_credentials" not in (config.get("AllowedOAuthFlows") or []):
        return _error(start, "400 Bad Request", "unauthorized_client")
    allowed = list(config.get("AllowedOAuthScopes") or [])
    scopes = form["scope"].split() if form.get("scope") else allowed
    if not scopes or not set(scopes) <= set(allowed):
        return _error(start, "400 Bad Request", "invalid_scope")
    now = int(time.time())
    claims = {"sub": client.id, "client_id": client.id, "token_use": "access",
              "scope": " ".join(scopes), "auth_time": now, "iat": now,
              "exp": now + TOKEN_SECONDS, "iss": f"https://cognito-idp.{region}.amazonaws.com/"
              f"{pool.id}", "version": 2, "jti": str(uuid.uuid4())}
    token = jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, pool.json_web_key)
    return _answer(start, "200 OK", {"access_token": token, "expires_in": TOKEN_SECONDS,
                                     "token_type": "Bearer"})


def with_token_endpoint(app: Callable) -> Callable:
    """``app`` with ``POST /oauth2/token`` served in front of it."""
    def dispatch(environ: dict, start: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == TOKEN_PATH and environ.get("REQUEST_METHOD") == "POST":
            return token_endpoint(environ, start)
        return app(environ, start)
    return dispatch
