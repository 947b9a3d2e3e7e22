"""Bearer tokens for tests: well-formed, and each kind of bad one a verifier must refuse.

Signed with keys the test makes, or with the local emulator's own user-pool key (moto signs
every pool's tokens with one RSA key whose private half ships in its wheel: fine for a local
emulator, never trusted on AWS), so a test can mint expired, early or foreign tokens that the
real local platform's JWKS would otherwise verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
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
