"""The load's bearer token: a machine client's, by client credentials (RFC 6749 4.4), with the
admin scope (the stock keeper restocks; every shopper orders as that client).

Against AWS, from the environment: ``OAUTH_TOKEN_URL`` (the user pool's ``/oauth2/token``),
``OAUTH_CLIENT_ID`` and ``OAUTH_CLIENT_SECRET`` (the stack's machine client outputs). Against the
local platform without them: the running `make dev`'s machine client. The token is handed to
locust in its environment (``TOKEN_ENV``), never on a command line.
"""

from __future__ import annotations

import os
from pathlib import Path

from order_local import identity
from order_platform.domain.access import Role, scope_of

CREDENTIAL_ENV = ("OAUTH_TOKEN_URL", "OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET")
TOKEN_ENV = "LOAD_BEARER_TOKEN"  # noqa: S105 (the variable's name, not a token)
LOCAL_DATA_DIR = Path(".local")


def machine_token(*, local: bool, data_dir: Path = LOCAL_DATA_DIR) -> str:
    """A fresh access token; ValueError naming what is missing."""
    given = [os.environ.get(name) for name in CREDENTIAL_ENV]
    if all(given):
        url, client_id, secret = given
        return identity.client_credentials_token(str(url), str(client_id), str(secret),
                                      (scope_of(Role.ADMIN),))
    if any(given) or not local:
        raise ValueError(f"set {', '.join(CREDENTIAL_ENV)} (the user pool's token endpoint and "
                         "the machine client's id and secret: docs/api.md)")
    return identity.running_platform(data_dir).machine_token(Role.ADMIN)
