"""Who may call the APIs: an Amazon Cognito user pool, or another OIDC issuer the stack names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.component import Component
from infra.wiring import TokenIssuer
from order_platform.domain.access import API_RESOURCE_SERVER, Role, scope_of

COGNITO_AUDIENCE_CLAIM = "client_id"
"""Cognito access tokens name their app client in ``client_id`` (they have no ``aud``)."""
COGNITO_ROLES_CLAIM = "cognito:groups"


@dataclass(frozen=True)
class ExternalIssuer:
    """``apiAuth``: tokens of an issuer outside the stack (Okta, Auth0, Keycloak, Entra ID)."""

    issuer: str
    jwks_url: str
    audiences: tuple[str, ...]
    audience_claim: str = "aud"
    roles_claim: str = "groups"

    @classmethod
    def from_config(cls, raw: Mapping | None) -> ExternalIssuer | None:
        """Read the ``apiAuth`` object; None (unset) means the stack's own user pool."""
        if not raw:
            return None
        audiences = raw.get("audiences") or []
        return cls(issuer=str(raw.get("issuer") or "").strip(),
                   jwks_url=str(raw.get("jwksUrl") or "").strip(),
                   audiences=tuple(str(a).strip() for a in audiences if str(a).strip()),
                   audience_claim=str(raw.get("audienceClaim") or "aud").strip(),
                   roles_claim=str(raw.get("rolesClaim") or "groups").strip())

    def problems(self) -> list[str]:
        """What is wrong with the setting, naming the key."""
        problems = [f"apiAuth.{key} must be an https:// URL, not {value!r}"
                    for key, value in (("issuer", self.issuer), ("jwksUrl", self.jwks_url))
                    if not value.startswith("https://")]
        if not self.audiences:
            problems.append("apiAuth.audiences must list the audience(s) the API's tokens name")
        if self.audience_claim not in ("aud", "client_id"):
            problems.append("apiAuth.audienceClaim must be aud or client_id")
        return problems

    def token_issuer(self) -> TokenIssuer:
        """What the pods are told."""
        return TokenIssuer(issuer=self.issuer, jwks_url=self.jwks_url,
                           audiences=",".join(self.audiences),
                           audience_claim=self.audience_claim, roles_claim=self.roles_claim)


@dataclass(frozen=True)
class UserPoolArgs:
    """Names and lifetimes of the pool."""

    name: str
    domain_prefix: str
    """The OAuth endpoints' host, ``<prefix>.auth.<region>.amazoncognito.com``: unique in the
    region, without "aws", "amazon" or "cognito"."""
    region: str
    deletion_protection: bool
    access_token_minutes: int = 60


class UserPool(Component[UserPoolArgs]):
    """A Cognito user pool: a group per role for people, a resource server with a scope per role
    for machines, an app client for each (people sign in; machines use client credentials)."""

    issuer: pulumi.Output[str]
    token_url: pulumi.Output[str]
    people_client_id: pulumi.Output[str]
    machine_client_id: pulumi.Output[str]
    machine_client_secret: pulumi.Output[str]
    """Secret: ``make load`` against the stack reads it (``pulumi stack output --show-secrets``)."""

    def __init__(self, name: str, args: UserPoolArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:userpool:UserPool", name, args, opts)
        pool = aws.cognito.UserPool(
            f"{name}-users", name=args.name,
            deletion_protection="ACTIVE" if args.deletion_protection else "INACTIVE",
            admin_create_user_config={"allow_admin_create_user_only": True},
            username_configuration={"case_sensitive": False},
            password_policy={"minimum_length": 12, "require_lowercase": True,
                             "require_uppercase": True, "require_numbers": True,
                             "require_symbols": False, "temporary_password_validity_days": 3},
            opts=self._child)
        self.pool_id = pool.id
        domain = aws.cognito.UserPoolDomain(f"{name}-users", domain=args.domain_prefix,
                                            user_pool_id=pool.id, opts=self._child)
        for role in Role:
            aws.cognito.UserGroup(f"{name}-{role.value}", user_pool_id=pool.id, name=role.value,
                                  description=f"people with the {role.value} role",
                                  opts=self._child)
        api = aws.cognito.ResourceServer(
            f"{name}-api", user_pool_id=pool.id, identifier=API_RESOURCE_SERVER,
            name="order-platform APIs",
            scopes=[{"scope_name": role.value, "scope_description": f"the {role.value} role"}
                    for role in Role], opts=self._child)
        lifetimes = {"access_token_validity": args.access_token_minutes,
                     "id_token_validity": args.access_token_minutes,
                     "token_validity_units": {"access_token": "minutes",
                                              "id_token": "minutes", "refresh_token": "days"},
                     "enable_token_revocation": True,
                     "prevent_user_existence_errors": "ENABLED"}
        people = aws.cognito.UserPoolClient(
            f"{name}-people", name=f"{args.name}-people", user_pool_id=pool.id,
            generate_secret=False, refresh_token_validity=1,
            explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH",
                                 "ALLOW_REFRESH_TOKEN_AUTH"], **lifetimes, opts=self._child)
        machines = aws.cognito.UserPoolClient(
            f"{name}-machines", name=f"{args.name}-machines", user_pool_id=pool.id,
            generate_secret=True, allowed_oauth_flows_user_pool_client=True,
            allowed_oauth_flows=["client_credentials"], supported_identity_providers=["COGNITO"],
            allowed_oauth_scopes=[scope_of(role) for role in Role], **lifetimes,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[api]))
        self.issuer = pool.endpoint.apply(lambda endpoint: f"https://{endpoint}")
        self.token_url = domain.domain.apply(
            lambda prefix: f"https://{prefix}.auth.{args.region}.amazoncognito.com/oauth2/token")
        self.people_client_id = people.id
        self.machine_client_id = machines.id
        self.machine_client_secret = pulumi.Output.secret(machines.client_secret)
        self.register_outputs({"issuer": self.issuer, "tokenUrl": self.token_url,
                               "peopleClientId": people.id, "machineClientId": machines.id})

    def token_issuer(self) -> TokenIssuer:
        """What the pods are told: the pool's issuer, its keys, both clients as audiences."""
        return TokenIssuer(
            issuer=self.issuer,
            jwks_url=self.issuer.apply(lambda issuer: f"{issuer}/.well-known/jwks.json"),
            audiences=pulumi.Output.concat(self.people_client_id, ",", self.machine_client_id),
            audience_claim=COGNITO_AUDIENCE_CLAIM, roles_claim=COGNITO_ROLES_CLAIM)
