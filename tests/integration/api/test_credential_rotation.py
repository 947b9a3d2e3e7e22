"""After the DB password rotates, new connections re-fetch the secret once and carry on.

Each test uses its own role and secret, so the session's shared role is never rotated.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid

import pytest
from psycopg2 import sql

from order_local import provision
from order_local.stack import APP_ROLE
from order_platform.entrypoints.read_api.app import create_app as create_read_app
from order_platform.entrypoints.write_api.app import create_app as create_write_app
from tests.support.tokens import bearer, client_with


@pytest.fixture
def own_role(superuser_conn, local_aws):
    """A login role with the app's privileges, and a secret of its own holding its password."""
    role = f"rotating_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    aws = dataclasses.replace(local_aws, prefix=f"{local_aws.prefix}-{role}")
    with superuser_conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD %s IN ROLE {}").format(
            sql.Identifier(role), sql.Identifier(APP_ROLE)), (password,))
    arn = provision.put_db_secret(aws, username=role, password=password)

    def rotate() -> str:
        new_password = uuid.uuid4().hex
        with superuser_conn.cursor() as cur:
            cur.execute(sql.SQL("ALTER ROLE {} PASSWORD %s").format(sql.Identifier(role)),
                        (new_password,))
        provision.put_db_secret(aws, username=role, password=new_password)  # put_secret_value
        return new_password

    yield arn, rotate
    with superuser_conn.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                    (role,))
        cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.mark.parametrize("api", ["write", "read"])
def test_the_api_keeps_working_across_a_password_rotation(api, own_role, settings,
                                                          make_product, caplog):
    arn, rotate = own_role
    product = make_product(stock=10)
    factory = create_write_app if api == "write" else create_read_app
    app = factory(dataclasses.replace(settings, db_secret_arn=arn))
    database = app.extensions["order_platform"].database
    client = client_with(app, bearer(settings, "admin-1", "admin"))

    def use_the_database():
        if api == "write":
            return client.post(f"/products/{product['sku']}/stock",
                               json={"mode": "add", "quantity": 1})
        return client.get(f"/products/{product['sku']}")

    try:
        assert use_the_database().status_code == 200  # connects with the first password
        rotate()
        caplog.set_level(logging.WARNING, logger="order_platform.adapters.db")
        # Hold the pooled connection, so the next request must open a new one with
        # the cached (now wrong) password.
        with database.session():
            response = use_the_database()
        assert response.status_code == 200, response.json
        # Only the new password opens a connection now, so the secret was fetched again.
        assert any("re-fetching the secret" in r.getMessage() for r in caplog.records)
        # The connection opened before the rotation still works, and so does the pool.
        for _ in range(3):
            assert use_the_database().status_code == 200
    finally:
        database.close()
