"""Bearer tokens verified against the issuer's published keys, with PyJWT (no crypto of ours).

Each token must be a JWT signed with an allow-listed algorithm by a key in the issuer's JWKS,
from the configured issuer, for one of the configured audiences, within its ``exp`` and ``nbf``.
Amazon Cognito's access tokens name their app client in ``client_id`` (and say
``token_use: access``) where other issuers put ``aud``. The key set is fetched once and kept;
a ``kid`` it lacks makes PyJWKClient fetch it again, at most once per cooldown, so a flood of
made-up ``kid``s costs the issuer one request per cooldown per process.

A token verified once is remembered, until its own ``exp``, by its exact text: a client sends
the same token with every request for its lifetime, and a lookup costs a microsecond where a
verification costs a few hundred (an RSA signature and PyJWT's checks). It is no longer trust
than the keys already get: a key removed from the issuer is dropped from the kept set within
the hour (``key_cache_seconds``), and an access token outlives that by at most its own life.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import jwt
from jwt import PyJWKClient, PyJWTError

from order_platform.domain.access import Caller, TokenRejected, TokenVerifier, roles_granted

ALGORITHMS = ("RS256",)
"""What Cognito (and most issuers) sign with; ``none``, HMAC and everything else are refused."""
MAX_TOKEN_BYTES = 4096
"""Far above a real access token (about 1 KiB), far below gunicorn's 8 KiB header limit."""
LEEWAY_SECONDS = 30
"""Clock skew allowed on exp, nbf and iat."""
REMEMBERED_TOKENS = 10_000
"""Verified tokens kept per process: forgotten all at once when full (a few MiB at most)."""


class JwksTokenVerifier(TokenVerifier):
    """Verifies tokens of one issuer, with its keys cached per process."""

    def __init__(self, *, issuer: str, jwks_url: str, audiences: Sequence[str],
                 audience_claim: str = "aud", roles_claim: str = "groups",
                 key_cache_seconds: float = 3600, refresh_cooldown_seconds: float = 30,
                 fetch_timeout_seconds: float = 3,
                 clock: Callable[[], float] = time.time) -> None:
        self._issuer = issuer
        self._audiences = list(audiences)
        self._audience_claim = audience_claim
        self._roles_claim = roles_claim
        self._keys = PyJWKClient(jwks_url, lifespan=key_cache_seconds,
                                 cooldown_duration=refresh_cooldown_seconds,
                                 timeout=fetch_timeout_seconds)
        self._clock = clock
        self._verified: dict[str, tuple[Caller, float]] = {}
        """token -> (its caller, its exp); dict operations are atomic under the GIL."""

    def verify(self, token: str) -> Caller:
        """The caller the token speaks for, or TokenRejected saying why."""
        remembered = self._verified.get(token)
        if remembered is not None and self._clock() < remembered[1]:
            return remembered[0]
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenRejected(f"token over {MAX_TOKEN_BYTES} bytes")
        try:
            claims = self._claims(token)
        except PyJWTError as exc:
            raise TokenRejected(str(exc) or type(exc).__name__) from exc
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise TokenRejected("token has no subject")
        caller = Caller(customer_id=subject,
                        roles=roles_granted(claims.get(self._roles_claim), claims.get("scope")))
        if len(self._verified) >= REMEMBERED_TOKENS:
            self._verified.clear()
        self._verified[token] = (caller, float(claims["exp"]))
        return caller

    def _claims(self, token: str) -> dict[str, Any]:
        key = self._keys.get_signing_key_from_jwt(token)
        by_aud = self._audience_claim == "aud"
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=list(ALGORITHMS), issuer=self._issuer,
            # Without an audience to check, PyJWT refuses any token that has one (a Cognito
            # id token): only access tokens pass.
            audience=self._audiences if by_aud else None, leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "sub"]})
        if not by_aud and (claims.get("token_use") != "access"
                           or claims.get(self._audience_claim) not in self._audiences):
            raise jwt.InvalidAudienceError("not an access token of an accepted client")
        return claims
