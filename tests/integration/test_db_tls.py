"""The local PostgreSQL speaks TLS only, as Aurora with rds.force_ssl: verify-full against the
local CA works; a wrong CA, a missing one, a name the certificate lacks and plain TCP fail."""

from __future__ import annotations

import psycopg2
import pytest

from order_local import pg_tls


def test_verify_full_against_the_local_ca_gives_tls_1_3(pg_server):
    conn = psycopg2.connect(**pg_server.superuser_dsn(), connect_timeout=5)
    try:
        assert conn.info.ssl_in_use
        assert conn.info.ssl_attribute("protocol") == "TLSv1.3"
    finally:
        conn.close()


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    directory = tmp_path_factory.mktemp("other-ca")
    pg_tls.make_ca(directory, "someone else's CA")
    return directory / "ca.crt"


@pytest.mark.parametrize(("change", "refusal"), [
    ("wrong CA", "certificate verify failed"),
    ("no CA file", "does not exist"),
    ("another name", "does not match host name"),
    ("plain TCP", "server closed the connection unexpectedly"),
    ("wrong password", "password authentication failed"),  # the front is no way around it
])
def test_what_verify_full_refuses(pg_server, other_ca, change, refusal):
    dsn = pg_server.superuser_dsn()
    dsn.update({
        "wrong CA": {"sslrootcert": str(other_ca)},
        "no CA file": {"sslrootcert": str(other_ca.parent / "missing.crt")},
        "another name": {"host": "127.0.0.3", "hostaddr": dsn["host"]},
        "plain TCP": {"sslmode": "disable"},
        "wrong password": {"password": "not-the-password"},
    }[change])
    with pytest.raises(psycopg2.OperationalError, match=refusal):
        psycopg2.connect(**dsn, connect_timeout=5)


def test_the_servers_certificate_is_renewed_before_it_expires(tmp_path, monkeypatch):
    ca = pg_tls.ensure_certificates(tmp_path)
    first = (tmp_path / "server.crt").read_bytes()
    assert pg_tls.ensure_certificates(tmp_path) == ca
    assert (tmp_path / "server.crt").read_bytes() == first  # still current: kept
    monkeypatch.setattr(pg_tls, "RENEW_BEFORE", pg_tls.dt.timedelta(days=400))
    pg_tls.ensure_certificates(tmp_path)
    assert (tmp_path / "server.crt").read_bytes() != first
    assert (tmp_path / "server.key").stat().st_mode & 0o777 == 0o600


def test_every_pool_connects_verify_full_and_refuses_a_wrong_ca(settings, other_ca):
    """The services' own path (bootstrap's pools), as on AWS against the RDS bundle."""
    import dataclasses

    from order_platform import bootstrap
    from order_platform.processes import READ_API, Endpoint

    runtime = bootstrap.start(READ_API, settings)
    try:
        with runtime.database(Endpoint.READER).session(transaction=False) as session:
            info = session.connection.info
            assert (info.ssl_in_use, info.ssl_attribute("protocol")) == (True, "TLSv1.3")
            assert "sslmode=verify-full" in session.connection.dsn
    finally:
        runtime.close()
    wrong = bootstrap.start(READ_API, dataclasses.replace(settings,
                                                          db_ssl_root_cert=str(other_ca)))
    try:
        with pytest.raises(psycopg2.OperationalError, match="certificate verify failed"):
            wrong.database(Endpoint.READER).ping()
    finally:
        wrong.close()
