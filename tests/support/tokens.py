"""Bearer tokens for tests: well-formed, and each kind of bad one a verifier must refuse.

Signed with keys the test makes, or with the local emulator's own user-pool key (moto signs
every pool's tokens with one RSA key whose private half ships in its wheel: fine for a local
emulator, never trusted on AWS), so a test can mint expired, early or foreign tokens that the
real local platform's JWKS would otherwise verify.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


@dataclass(frozen=True)
class SigningKey:
    """An RSA key pair with the ``kid`` its JWKS entry carries."""

    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def new(cls, kid: str | None = None) -> SigningKey:
        return cls(kid or uuid.uuid4().hex[:12], rsa.generate_private_key(65537, 2048))

    @classmethod
    @functools.cache
    def emulators(cls) -> SigningKey:
        """The key the moto server signs every user pool's tokens with (``kid: dummy``)."""
        from moto.utilities.utils import load_resource

        jwk = load_resource("cognitoidp/resources/jwks-private.json")
        private = RSAAlgorithm.from_jwk(json.dumps(jwk))
        assert isinstance(private, rsa.RSAPrivateKey)
        return cls(jwk["kid"], private)

    def jwk(self) -> dict[str, Any]:
        """The public half as a JWKS entry."""
        entry = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**entry, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def access_claims(issuer: str, client_id: str, subject: str | None = None,
                  lifetime: int = 600, **extra: Any) -> dict[str, Any]:
    """A Cognito-shaped access token's claims, valid now for ``lifetime`` seconds."""
    now = int(time.time())
    return {"iss": issuer, "sub": subject or f"cust-{uuid.uuid4().hex[:8]}",
            "client_id": client_id, "token_use": "access", "iat": now, "exp": now + lifetime,
            "jti": uuid.uuid4().hex, **extra}


def mint(key: SigningKey, claims: dict[str, Any], *, kid: str | None = None) -> str:
    """An RS256 token of ``claims`` signed by ``key`` (under another ``kid`` if given)."""
    return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": kid or key.kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def unsigned(key: SigningKey, claims: dict[str, Any]) -> str:
    """``alg: none``: no signature at all."""
    return _segments({"alg": "none", "typ": "JWT", "kid": key.kid}, claims) + "."


def hmac_with_public_key(key: SigningKey, claims: dict[str, Any]) -> str:
    """Key confusion: HS256 whose secret is the RSA public key anyone can download."""
    signing_input = _segments({"alg": "HS256", "typ": "JWT", "kid": key.kid}, claims)
    digest = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(digest)}"


def bearer(settings: Any, customer: str, *roles: str, **claims: Any) -> dict[str, str]:
    """An Authorization header the APIs configured by ``settings`` (Settings, or the contract
    as a dict) accept: a person's access token for ``customer`` in the groups ``roles``,
    signed with the emulator's key."""
    if isinstance(settings, dict):
        issuer, audience = settings["AUTH_ISSUER"], settings["AUTH_AUDIENCES"].split(",")[0]
    else:
        issuer, audience = settings.auth_issuer, settings.auth_audiences[0]
    token = mint(SigningKey.emulators(), access_claims(
        issuer, audience, subject=customer,
        **({"cognito:groups": list(roles)} if roles else {}), **claims))
    return {"Authorization": f"Bearer {token}"}


def client_with(app: Any, header: dict[str, str]) -> Any:
    """A Flask test client of ``app`` that sends ``header`` (a ``bearer``) on every request."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = header["Authorization"]
    return client


class JwksServer:
    """An issuer's key endpoint of the test's own, counting every fetch: it serves ``keys``
    (SigningKeys, or JWKS entries taken from another issuer, such as the emulator)."""

    def __init__(self, *keys: SigningKey | dict[str, Any]) -> None:
        self.keys = list(keys)
        self.fetches = 0
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.fetches += 1
                body = json.dumps({"keys": [k.jwk() if isinstance(k, SigningKey) else k
                                            for k in served.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def staff_client(app: Any, customer: str = "staff-1") -> Any:
    """A test client of an API app sending a token of ``customer`` with every role: it may
    administer the catalogue, order, and read every order."""
    settings = app.extensions["order_platform"].settings
    return client_with(app, bearer(settings, customer, "admin", "support"))
