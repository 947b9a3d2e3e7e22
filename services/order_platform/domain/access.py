"""Who may do what: the roles a token grants and the OAuth scopes that name them.

The Pulumi program creates a user-pool group and a resource-server scope per role, the local
platform does the same in the emulator, and the APIs read them from a verified token: one
list, read by all three. Standard library only (the Pulumi program imports it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum

API_RESOURCE_SERVER = "orders-api"
"""The identifier of the APIs' resource server: a machine client's scopes are under it."""


class Role(StrEnum):
    """What a token may do besides acting as its own customer."""

    ADMIN = "admin"
    """Catalogue administration: create products, restock."""
    SUPPORT = "support"
    """Reads every customer's orders."""


def scope_of(role: Role) -> str:
    """The OAuth scope that grants ``role`` to a machine client (``orders-api/admin``)."""
    return f"{API_RESOURCE_SERVER}/{role.value}"


def roles_granted(groups: object, scope: object) -> frozenset[Role]:
    """The roles of a token: its groups (people) and the scopes it carries (machines)."""
    names: set[str] = set()
    if isinstance(groups, str):
        names.update(groups.split())
    elif isinstance(groups, list):
        names.update(g for g in groups if isinstance(g, str))
    if isinstance(scope, str):
        names.update(s.removeprefix(f"{API_RESOURCE_SERVER}/") for s in scope.split()
                     if s.startswith(f"{API_RESOURCE_SERVER}/"))
    return frozenset(role for role in Role if role.value in names)


@dataclass(frozen=True)
class Caller:
    """Who a verified token speaks for: a customer (its subject) with the roles it grants."""

    customer_id: str
    roles: frozenset[Role] = frozenset()

    def has(self, role: Role) -> bool:
        """True when the token grants ``role``."""
        return role in self.roles

    def may_read_orders_of(self, customer_id: str | None) -> bool:
        """A customer reads only their own orders; support reads everyone's (None: all)."""
        return customer_id == self.customer_id or self.has(Role.SUPPORT)


class TokenRejected(Exception):
    """A bearer token that does not prove who is calling; the message says why (for the log and
    the 401's error_description, never the token)."""


class TokenVerifier(ABC):
    """The port the web edge asks who a bearer token speaks for."""

    @abstractmethod
    def verify(self, token: str) -> Caller:
        """The caller, or TokenRejected."""
