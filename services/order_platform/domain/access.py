"""Who may do what: the roles a token grants and the OAuth scopes that name them.

The Pulumi program creates a user-pool group and a resource-server scope per role, the local
platform does the same in the emulator, and the APIs read them from a verified token: one
list, read by all three. Standard library only (the Pulumi program imports it).
"""

from __future__ import annotations

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
