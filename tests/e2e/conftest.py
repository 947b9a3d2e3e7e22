"""What the end-to-end tests share: both APIs under gunicorn, and the user pool's tokens."""

from __future__ import annotations

import pytest
import requests

from order_local import identity
from order_platform.domain.access import Role
from order_platform.processes import READ_API, WRITE_API
from tests.support.platform import free_port
from tests.support.processes import command, environment, running
from tests.support.tokens import JwksServer

WORKERS = 2
"""gunicorn workers per API: each keeps its own copy of the issuer's keys."""


@pytest.fixture(scope="session")
def users(local_aws):
    """The session's user pool in the emulator, and tokens from it."""
    return identity.build_identity(local_aws)


@pytest.fixture(scope="session")
def issuer_keys(platform_env):
    """The emulator's published keys, served by a JWKS endpoint that counts its fetches."""
    keys = requests.get(platform_env["AUTH_JWKS_URL"], timeout=10).json()["keys"]
    server = JwksServer(*keys)
    yield server
    server.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def admin(users):
    """A machine client's token with the admin scope (client credentials, as make load's)."""
    return bearer(users.machine_token(Role.ADMIN))


@pytest.fixture(scope="session")
def apis(platform_env, tmp_path_factory, issuer_keys):
    """The write and read APIs as gunicorn processes; yields their URLs and log files."""
    logs = tmp_path_factory.mktemp("api-logs")
    write_port, read_port = free_port(), free_port()
    read_url = f"http://127.0.0.1:{read_port}"
    env = {**platform_env, "READ_API_URL": read_url, "LOG_LEVEL": "INFO",
           "AUTH_JWKS_URL": issuer_keys.url, "WEB_CONCURRENCY": str(WORKERS)}
    with running(command(READ_API, read_port), {**env, **environment(READ_API)},
                 f"{read_url}/readyz", logs / "read.log") as read_proc, \
            running(command(WRITE_API, write_port), {**env, **environment(WRITE_API)},
                    f"http://127.0.0.1:{write_port}/readyz", logs / "write.log") as write_proc:
        yield {"write": f"http://127.0.0.1:{write_port}", "read": read_url,
               "write_log": logs / "write.log", "read_log": logs / "read.log",
               "procs": (write_proc, read_proc)}
