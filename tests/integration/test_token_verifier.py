"""The token adapter against a JWKS server of the test's own (it counts its fetches): what it
accepts, every bad token it refuses, key rotation, and a flood of unknown kids."""

from __future__ import annotations

import time

import pytest

from order_platform.adapters.tokens import JwksTokenVerifier
from order_platform.domain.access import Caller, Role, TokenRejected
from tests.support import tokens

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_test"
PEOPLE, MACHINES = "people-client", "machine-client"


class Issuer(tokens.JwksServer):
    """A JWKS endpoint serving ``keys``, counting every fetch."""

    def verifier(self, **kwargs) -> JwksTokenVerifier:
        return JwksTokenVerifier(issuer=ISSUER, jwks_url=self.url, audiences=[PEOPLE, MACHINES],
                                 audience_claim="client_id", roles_claim="cognito:groups",
                                 **kwargs)


@pytest.fixture
def key() -> tokens.SigningKey:
    return tokens.SigningKey.new()


@pytest.fixture
def issuer(key):
    issuer = Issuer(key)
    yield issuer
    issuer.stop()


def claims(**extra):
    return tokens.access_claims(ISSUER, PEOPLE, **extra)


def test_a_good_token_names_its_customer_and_roles(issuer, key):
    verifier = issuer.verifier()
    person = verifier.verify(tokens.mint(key, claims(subject="c-1", **{
        "cognito:groups": ["support", "unknown-group"]})))
    assert person == Caller("c-1", frozenset({Role.SUPPORT}))
    machine = verifier.verify(tokens.mint(key, tokens.access_claims(
        ISSUER, MACHINES, subject=MACHINES, scope="orders-api/admin other/support")))
    assert machine == Caller(MACHINES, frozenset({Role.ADMIN}))
    assert issuer.fetches == 1  # the key set is kept


def test_aud_is_checked_for_other_issuers(issuer, key):
    verifier = JwksTokenVerifier(issuer=ISSUER, jwks_url=issuer.url, audiences=["api://orders"])
    good = {k: v for k, v in claims().items() if k != "client_id"}
    assert verifier.verify(tokens.mint(key, {**good, "aud": "api://orders"})).customer_id
    with pytest.raises(TokenRejected, match=r"(?i)audience"):
        verifier.verify(tokens.mint(key, {**good, "aud": "api://billing"}))


def _bad_tokens(key: tokens.SigningKey) -> dict[str, str]:
    now = int(time.time())
    return {
        "malformed": "not.a.jwt",
        "garbage": "x" * 40,
        "alg none": tokens.unsigned(key, claims()),
        "HS256 with the public key": tokens.hmac_with_public_key(key, claims()),
        "expired": tokens.mint(key, claims(iat=now - 7200, exp=now - 3600)),
        "not yet valid": tokens.mint(key, claims(nbf=now + 3600)),
        "wrong issuer": tokens.mint(key, {**claims(), "iss": "https://evil.example.com"}),
        "wrong client": tokens.mint(key, tokens.access_claims(ISSUER, "another-client")),
        "an id token": tokens.mint(key, {**claims(), "token_use": "id", "aud": PEOPLE}),
        "no expiry": tokens.mint(key, {k: v for k, v in claims().items() if k != "exp"}),
        "another key, same kid": tokens.mint(tokens.SigningKey.new(key.kid), claims()),
        "oversized": tokens.mint(key, claims(padding="x" * 5000)),
    }


@pytest.mark.parametrize("kind", list(_bad_tokens(tokens.SigningKey.new())))
def test_bad_tokens_are_rejected(issuer, key, kind):
    with pytest.raises(TokenRejected):
        issuer.verifier().verify(_bad_tokens(key)[kind])


def test_an_unknown_kid_refreshes_the_keys_once_then_is_refused(issuer, key):
    verifier = issuer.verifier(refresh_cooldown_seconds=0)
    verifier.verify(tokens.mint(key, claims()))
    assert issuer.fetches == 1
    with pytest.raises(TokenRejected, match="signing key"):
        verifier.verify(tokens.mint(tokens.SigningKey.new(), claims()))
    assert issuer.fetches == 2


def test_a_flood_of_unknown_kids_costs_the_issuer_at_most_one_fetch(issuer, key):
    verifier = issuer.verifier()  # the default 30 s cooldown
    verifier.verify(tokens.mint(key, claims()))
    stranger = tokens.SigningKey.new()
    for n in range(200):
        with pytest.raises(TokenRejected):
            verifier.verify(tokens.mint(stranger, claims(), kid=f"made-up-{n}"))
    assert issuer.fetches <= 2


def test_a_rotated_key_is_picked_up_without_a_restart(issuer, key):
    verifier = issuer.verifier(refresh_cooldown_seconds=0)
    verifier.verify(tokens.mint(key, claims()))
    rotated = tokens.SigningKey.new()
    issuer.keys = [rotated, key]  # the issuer publishes the new key, then signs with it
    assert verifier.verify(tokens.mint(rotated, claims(subject="c-2"))).customer_id == "c-2"
    assert verifier.verify(tokens.mint(key, claims(subject="c-3"))).customer_id == "c-3"
    assert issuer.fetches == 2


def test_a_verified_token_is_remembered_until_its_expiry(issuer, key, monkeypatch):
    from order_platform.adapters import tokens as adapter

    now = [time.time()]
    verifier = issuer.verifier(clock=lambda: now[0])
    decoded = []
    real_decode = adapter.jwt.decode
    monkeypatch.setattr(adapter.jwt, "decode",
                        lambda *a, **k: decoded.append(1) or real_decode(*a, **k))
    token = tokens.mint(key, claims(subject="c-9", lifetime=600))
    assert verifier.verify(token) == verifier.verify(token) == Caller("c-9")
    assert len(decoded) == 1  # the second time, from memory
    other = tokens.mint(key, claims(subject="c-10"))
    assert verifier.verify(other).customer_id == "c-10"  # by the token's text, not its key
    now[0] += 601  # past its exp: checked afresh (PyJWT, on the real clock, still takes it)
    assert verifier.verify(token) == Caller("c-9")
    assert len(decoded) == 3
