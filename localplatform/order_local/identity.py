"""The local user pool, in the emulator: the Pulumi program's Cognito set-up made with the same
boto3 calls, and access tokens for a customer, a role or a machine.

Users live in the emulator's memory: after a restart a name gets a new subject (``sub``), so
the orders it placed before belong to a customer nobody can sign in as any more.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import json
import secrets
import shlex
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from order_local.machine import SetupError
from order_local.provision import LocalAws, client
from order_platform.domain.access import API_RESOURCE_SERVER, Role, scope_of

COGNITO_AUDIENCE_CLAIM = "client_id"
COGNITO_ROLES_CLAIM = "cognito:groups"


@dataclass(frozen=True)
class LocalIdentity:
    """The pool and its two app clients."""

    aws: LocalAws
    pool_id: str
    people_client_id: str
    machine_client_id: str
    machine_client_secret: str

    @property
    def issuer(self) -> str:
        """What the emulator writes into ``iss`` (Cognito's form, whatever its address)."""
        return f"https://cognito-idp.{self.aws.region}.amazonaws.com/{self.pool_id}"

    @property
    def token_url(self) -> str:
        """The client-credentials endpoint (``order_local.moto_oauth``)."""
        return f"{self.aws.endpoint_url}/oauth2/token"

    def machine_token(self, *roles: Role) -> str:
        """A client-credentials token of the machine client, with ``roles``' scopes."""
        return client_credentials_token(self.token_url, self.machine_client_id,
                                        self.machine_client_secret,
                                        tuple(scope_of(role) for role in roles))

    def customer_token(self, customer: str, *roles: Role, lifetime: int = 3600) -> str:
        """A people-client access token whose subject is ``customer``, signed by the emulator's
        key without a round trip to it: the chaos load's many customers, while the emulator
        may be frozen. Local only: moto signs every pool with one key whose private half ships
        in its wheel, so this is the token the emulator would issue, for a chosen subject."""
        import jwt

        kid, key = _emulator_key()
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": customer, "client_id": self.people_client_id,
                  "token_use": "access", "iat": now, "exp": now + lifetime,
                  "jti": secrets.token_hex(16), "username": customer,
                  **({COGNITO_ROLES_CLAIM: [r.value for r in roles]} if roles else {})}
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

    def contract(self) -> dict[str, str]:
        """The config contract's AUTH_* settings, as the ConfigMap gets them from the pool."""
        return {
            "AUTH_ISSUER": self.issuer,
            # The emulator publishes the pool's keys under its own address, not the issuer's.
            "AUTH_JWKS_URL": f"{self.aws.endpoint_url}/{self.pool_id}/.well-known/jwks.json",
            "AUTH_AUDIENCES": f"{self.people_client_id},{self.machine_client_id}",
            "AUTH_AUDIENCE_CLAIM": COGNITO_AUDIENCE_CLAIM,
            "AUTH_ROLES_CLAIM": COGNITO_ROLES_CLAIM,
        }


@functools.cache
def _emulator_key() -> tuple[str, Any]:
    """The emulator's signing key and its kid, read and parsed once per process."""
    from jwt.algorithms import RSAAlgorithm
    from moto.utilities.utils import load_resource

    private = load_resource("cognitoidp/resources/jwks-private.json")
    return private["kid"], RSAAlgorithm.from_jwk(json.dumps(private))


def _pool_id(idp, name: str) -> str:
    pages = idp.get_paginator("list_user_pools").paginate(MaxResults=60)
    found = [p["Id"] for page in pages for p in page["UserPools"] if p["Name"] == name]
    if found:
        return found[0]
    return idp.create_user_pool(
        PoolName=name, AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        Policies={"PasswordPolicy": {"MinimumLength": 12}})["UserPool"]["Id"]


def _client(idp, pool_id: str, name: str, **settings) -> dict:
    pages = idp.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool_id,
                                                                 MaxResults=60)
    for page in pages:
        for found in page["UserPoolClients"]:
            if found["ClientName"] == name:
                return idp.describe_user_pool_client(
                    UserPoolId=pool_id, ClientId=found["ClientId"])["UserPoolClient"]
    return idp.create_user_pool_client(UserPoolId=pool_id, ClientName=name,
                                       **settings)["UserPoolClient"]


def build_identity(aws: LocalAws) -> LocalIdentity:
    """The pool, a group per role, the resource server with a scope per role, the people's and
    the machines' app clients. Idempotent."""
    idp = client(aws, "cognito-idp")
    name = f"{aws.prefix}-users"
    pool_id = _pool_id(idp, name)
    groups = {g["GroupName"] for g in idp.list_groups(UserPoolId=pool_id, Limit=60)["Groups"]}
    for role in Role:
        if role.value not in groups:
            idp.create_group(UserPoolId=pool_id, GroupName=role.value)
    servers = idp.list_resource_servers(UserPoolId=pool_id, MaxResults=50)["ResourceServers"]
    if not any(s["Identifier"] == API_RESOURCE_SERVER for s in servers):
        idp.create_resource_server(
            UserPoolId=pool_id, Identifier=API_RESOURCE_SERVER, Name="order-platform APIs",
            Scopes=[{"ScopeName": r.value, "ScopeDescription": f"the {r.value} role"}
                    for r in Role])
    people = _client(idp, pool_id, f"{name}-people", GenerateSecret=False,
                     ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    machines = _client(idp, pool_id, f"{name}-machines", GenerateSecret=True,
                       AllowedOAuthFlowsUserPoolClient=True,
                       AllowedOAuthFlows=["client_credentials"],
                       AllowedOAuthScopes=[scope_of(role) for role in Role])
    return LocalIdentity(aws=aws, pool_id=pool_id, people_client_id=people["ClientId"],
                         machine_client_id=machines["ClientId"],
                         machine_client_secret=machines["ClientSecret"])


def person_token(identity: LocalIdentity, username: str, roles: frozenset[Role] = frozenset()
                 ) -> str:
    """An access token of ``username`` (created if new), in exactly ``roles``' groups."""
    idp = client(identity.aws, "cognito-idp")
    pool = identity.pool_id
    with contextlib.suppress(idp.exceptions.UsernameExistsException):
        idp.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")
    password = f"{secrets.token_urlsafe(18)}Aa1!"
    idp.admin_set_user_password(UserPoolId=pool, Username=username, Password=password,
                                Permanent=True)
    current = {g["GroupName"] for g in
               idp.admin_list_groups_for_user(UserPoolId=pool, Username=username)["Groups"]}
    wanted = {role.value for role in roles}
    for group in current - wanted:
        idp.admin_remove_user_from_group(UserPoolId=pool, Username=username, GroupName=group)
    for group in wanted - current:
        idp.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=group)
    result = idp.initiate_auth(ClientId=identity.people_client_id, AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": username, "PASSWORD": password})
    return result["AuthenticationResult"]["AccessToken"]


def client_credentials_token(token_url: str, client_id: str, client_secret: str,
                             scopes: tuple[str, ...] = (), timeout: float = 10) -> str:
    """A client-credentials access token (RFC 6749 4.4), locally or from Cognito."""
    body = urllib.parse.urlencode({"grant_type": "client_credentials",
                                   **({"scope": " ".join(scopes)} if scopes else {})}).encode()
    request = urllib.request.Request(token_url, data=body, method="POST", headers={  # noqa: S310
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "Basic " + _basic(client_id, client_secret)})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())["access_token"]


def _basic(client_id: str, client_secret: str) -> str:
    pair = f"{urllib.parse.quote(client_id)}:{urllib.parse.quote(client_secret)}"
    return base64.b64encode(pair.encode()).decode()


def running_platform(data_dir: Path) -> LocalIdentity:
    """The user pool of the `make dev` whose contract is in ``data_dir``."""
    contract = data_dir / "contract.env"
    if not contract.exists():
        raise SetupError(f"no {contract}: start the local platform with 'make dev' first")
    values = dict(shlex.split(line)[0].split("=", 1) for line in
                  contract.read_text().splitlines() if "=" in line)
    return build_identity(LocalAws(endpoint_url=values["AWS_ENDPOINT_URL"]))


def add_token_arguments(parser: argparse.ArgumentParser) -> None:
    """``order-local token``'s flags."""
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--customer", default="alice",
                     help="the person the token is for, created if new (default: alice)")
    who.add_argument("--machine", action="store_true",
                     help="a machine token (client credentials), like `make load` gets")
    parser.add_argument("--role", action="append", choices=[r.value for r in Role], default=[],
                        help="a role the token grants (repeatable); none: a plain customer")
    parser.add_argument("--data-dir", type=Path, default=Path(".local"),
                        help="the running platform's data directory (default: .local)")


def token_command(args: argparse.Namespace) -> str:
    """The access token ``order-local token`` prints."""
    identity = running_platform(args.data_dir)
    roles = frozenset(Role(r) for r in args.role)
    if args.machine:
        return identity.machine_token(*sorted(roles))
    return person_token(identity, args.customer, roles)
