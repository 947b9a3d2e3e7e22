"""The local user pool in the emulator: the Pulumi program's set-up, people's tokens, and the
client-credentials endpoint moto lacks (order_local.moto_oauth, which uses moto internals: these
tests fail loudly on a moto upgrade that moves them)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from order_local import identity
from order_local.provision import LocalAws
from order_platform.domain.access import Role, scope_of


@pytest.fixture(scope="module")
def pool(aws_endpoint) -> identity.LocalIdentity:
    return identity.build_identity(LocalAws(endpoint_url=aws_endpoint,
                                            prefix=f"idp-{uuid.uuid4().hex[:8]}"))


def claims(token: str, pool: identity.LocalIdentity) -> dict:
    """The token's claims, once its signature checks out against the pool's published keys."""
    with urllib.request.urlopen(pool.contract()["AUTH_JWKS_URL"], timeout=5) as response:
        keys = KeySet.import_key_set(json.loads(response.read()))
    return dict(jwt.decode(token, keys, algorithms=["RS256"]).claims)


def token_request(pool, body: dict, client_id: str | None = None, secret: str | None = None):
    data = urllib.parse.urlencode(body).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if client_id is not None:
        pair = f"{client_id}:{secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    request = urllib.request.Request(pool.token_url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_building_the_pool_twice_finds_the_same_pool_and_clients(pool):
    assert identity.build_identity(pool.aws) == pool
    contract = pool.contract()
    assert contract["AUTH_AUDIENCES"] == f"{pool.people_client_id},{pool.machine_client_id}"
    assert contract["AUTH_ISSUER"].endswith(f"/{pool.pool_id}")


def test_a_person_token_names_the_person_the_client_and_exactly_the_roles_asked(pool):
    admin = claims(identity.person_token(pool, "dana", frozenset({Role.ADMIN})), pool)
    assert admin["iss"] == pool.issuer and admin["token_use"] == "access"
    assert admin["client_id"] == pool.people_client_id
    assert admin["username"] == "dana" and admin["cognito:groups"] == ["admin"]
    plain = claims(identity.person_token(pool, "dana"), pool)  # the role taken away again
    assert plain["sub"] == admin["sub"] and "cognito:groups" not in plain


def test_a_machine_gets_a_cognito_shaped_token_for_its_allowed_scopes(pool):
    token = identity.client_credentials_token(pool.token_url, pool.machine_client_id,
                                   pool.machine_client_secret, (scope_of(Role.ADMIN),))
    found = claims(token, pool)
    assert found["iss"] == pool.issuer
    assert found["sub"] == found["client_id"] == pool.machine_client_id
    assert found["token_use"] == "access" and found["scope"] == "orders-api/admin"
    assert found["exp"] - found["iat"] == 3600


@pytest.mark.parametrize(("body", "who", "status", "error"), [
    ({"grant_type": "client_credentials"}, "wrong-secret", 401, "invalid_client"),
    ({"grant_type": "client_credentials"}, "nobody", 401, "invalid_client"),
    ({"grant_type": "client_credentials"}, "people", 401, "invalid_client"),  # no secret
    ({"grant_type": "password"}, "machine", 400, "unsupported_grant_type"),
    ({"grant_type": "client_credentials", "scope": "orders-api/root"}, "machine", 400,
     "invalid_scope"),
])
def test_the_token_endpoint_refuses_what_cognito_refuses(pool, body, who, status, error):
    client_id, secret = {
        "machine": (pool.machine_client_id, pool.machine_client_secret),
        "wrong-secret": (pool.machine_client_id, "not-the-secret"),
        "nobody": ("no-such-client", "x"),
        "people": (pool.people_client_id, ""),
    }[who]
    assert token_request(pool, body, client_id, secret) == (status, {"error": error})
