"""The local reader is a real streaming replica, so replica lag happens and the read API's
"not yet" (404 + Retry-After) can be seen and outgrown, as on Aurora.

A writer and its replica of our own (the session's database keeps reader == writer for speed
and determinism), the write API on the writer and the read API on the replica, in-process.
Lag is made deterministic by pausing WAL replay on the replica, not by racing it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg2
import pytest

from order_local import postgres
from order_local.stack import APP_DB, APP_ROLE
from tests.integration.pipeline.harness import wait_until
from tests.support.platform import free_port
from tests.support.tokens import staff_client

DEADLINE_SECONDS = 30


def _poll(check: Callable[[], object], what: str) -> object:
    """``check()``'s first truthy result; fail after ``DEADLINE_SECONDS``."""
    return wait_until(check, timeout=DEADLINE_SECONDS, interval=0.02, what=what)


def _scalar(dsn: dict, sql: str, params: tuple = ()) -> object:
    conn = psycopg2.connect(**dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()[0]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def replicated(tmp_path_factory, aws_endpoint, aws_credentials_env, pg_system_user):
    """A migrated writer, its streaming replica, and settings whose reader is the replica."""
    from order_local import provision
    from order_platform.adapters.schema import apply_migrations
    from order_platform.config import load_settings

    base = tmp_path_factory.mktemp("replicated")
    writer = postgres.LocalPostgres(data_dir=base / "pgdata", port=free_port(),
                                    superuser_password=uuid.uuid4().hex,
                                    system_user=pg_system_user)
    reader = writer.replica(base / "pgdata-reader")
    writer_proc = writer.start()
    reader_proc = None
    try:
        reader_proc = reader.start()
        password = uuid.uuid4().hex
        writer.ensure_role_and_database(role=APP_ROLE, password=password, dbname=APP_DB)
        apply_migrations(host=writer.host, port=writer.port, dbname=APP_DB, user=APP_ROLE,
                         password=password, ssl_root_cert=str(writer.ca_file))
        reader.wait_caught_up(reader_proc)
        # Own prefix: the session's DB secret must keep the session database's password.
        aws = provision.LocalAws(endpoint_url=aws_endpoint,
                                 prefix=f"replica-{uuid.uuid4().hex[:8]}")
        contract = provision.provision_contract(aws, db_port=writer.port, db_name=APP_DB,
                                                db_user=APP_ROLE, db_password=password,
                                                db_ssl_root_cert=str(writer.ca_file),
                                                db_reader_host=reader.host)
        yield writer, reader, reader_proc, load_settings(contract)
    finally:
        if reader_proc is not None:
            postgres.stop(reader_proc)
        postgres.stop(writer_proc)


@pytest.fixture(scope="module")
def apps(replicated):
    """The write API (writer) and the read API (replica), with their pools closed afterwards."""
    from order_platform.entrypoints.read_api.app import create_app as create_read_app
    from order_platform.entrypoints.write_api.app import create_app as create_write_app

    settings = replicated[3]
    write_app, read_app = create_write_app(settings), create_read_app(settings)
    yield write_app, read_app
    for app in (write_app, read_app):
        app.extensions["order_platform"].database.close()


@pytest.fixture(scope="module")
def product_sku(apps, replicated):
    """A product with plenty of stock, already on the replica."""
    _, reader, reader_proc, _ = replicated
    sku = f"REP-{uuid.uuid4().hex[:10]}"
    response = staff_client(apps[0]).post("/products", json={
        "sku": sku, "name": "Replicated", "price_cents": 500, "stock": 1000})
    assert response.status_code == 201, response.json
    reader.wait_caught_up(reader_proc)
    return sku


def _place_order(write_app, sku: str) -> str:
    response = staff_client(write_app, f"rep-{uuid.uuid4().hex[:8]}").post("/orders", json={
        "items": [{"sku": sku, "quantity": 1}]})
    assert response.status_code == 202, response.json
    return response.json["id"]


def test_an_order_written_to_the_writer_becomes_readable_on_the_replica(apps, product_sku):
    write_app, read_app = apps
    order_id = _place_order(write_app, product_sku)
    reads = staff_client(read_app)

    order = _poll(lambda: (r := reads.get(f"/orders/{order_id}")).status_code == 200 and r.json,
                  f"order {order_id} on the read API")
    assert (order["id"], order["status"]) == (order_id, "PENDING")
    assert [line["sku"] for line in order["lines"]] == [product_sku]


def test_while_replay_is_paused_the_read_api_says_not_yet_then_catches_up(apps, product_sku,
                                                                        replicated):
    write_app, read_app = apps
    writer, reader = replicated[0], replicated[1]
    reader_dsn, writer_dsn = reader.superuser_dsn(APP_DB), writer.superuser_dsn(APP_DB)
    reads = staff_client(read_app)
    _scalar(reader_dsn, "SELECT pg_wal_replay_pause()")
    try:
        # A pause is only requested until the startup process acts on it.
        _poll(lambda: _scalar(reader_dsn, "SELECT pg_get_wal_replay_pause_state()") == "paused",
              "replay paused")
        order_id = _place_order(write_app, product_sku)
        assert _scalar(writer_dsn, "SELECT status FROM orders WHERE id = %s",
                       (order_id,)) == "PENDING"
        # The order's WAL has reached the replica; only its replay is held back.
        written = _scalar(writer_dsn, "SELECT pg_current_wal_lsn()")
        _poll(lambda: _scalar(reader_dsn, "SELECT pg_last_wal_receive_lsn() >= %s::pg_lsn",
                              (written,)), "WAL received by the replica")

        response = reads.get(f"/orders/{order_id}")
        assert response.status_code == 404
        assert response.headers["Retry-After"] == "1"
        assert response.json["error"]["code"] == "order_not_found"
    finally:
        _scalar(reader_dsn, "SELECT pg_wal_replay_resume()")

    order = _poll(lambda: (r := reads.get(f"/orders/{order_id}")).status_code == 200 and r.json,
                  f"order {order_id} on the read API after replay resumed")
    assert order["id"] == order_id


def test_the_read_api_pool_is_on_the_replica_and_cannot_write(apps, replicated):
    write_app, read_app = apps
    writer = replicated[0]
    reader_pool = read_app.extensions["order_platform"].database
    writer_pool = write_app.extensions["order_platform"].database

    # The server sees its TLS front's Unix socket, not the address: ask the client side.
    with reader_pool.session() as session:
        assert session.execute("SELECT pg_is_in_recovery() AS standby").one() == {"standby": True}
        assert session.connection.info.host == postgres.READER_HOST
    with writer_pool.session() as session:
        assert session.execute("SELECT pg_is_in_recovery() AS standby").one() == {"standby": False}
        assert session.connection.info.host == postgres.WRITER_HOST

    # The server refuses, not only the pool's READ ONLY sessions: a read-only transaction may
    # turn read-write before its first query on a primary, but never on a standby.
    with pytest.raises(psycopg2.Error, match="during recovery"), \
            reader_pool.session() as session:
        session.execute("SET TRANSACTION READ WRITE").all()
    with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction), \
            reader_pool.session() as session:
        session.execute("CREATE TABLE written_on_the_reader (id int)").all()
    control = psycopg2.connect(**writer.superuser_dsn(APP_DB))
    try:
        control.set_session(readonly=True)
        with control.cursor() as cur:
            cur.execute("SET TRANSACTION READ WRITE")  # what the standby refused
        control.rollback()
    finally:
        control.close()


def test_a_lagging_reader_cannot_park_its_old_row_in_the_cache_for_a_whole_ttl(
        apps, replicated, cache_server):
    """The replica race: the worker evicts once the change is committed, the next read misses
    and asks a reader that has not replayed the change yet. What it fills is kept only for the
    settling TTL, so the change shows as soon as the reader has it, not a TTL later."""
    from order_platform.adapters import cache as cache_adapter
    from order_platform.domain.catalog import ProductRef
    from order_platform.entrypoints.read_api.app import create_app as create_read_app
    from order_platform.service_layer import product_cache as pc

    write_app = apps[0]
    writer, reader, reader_proc, settings = replicated
    reader_dsn, writer_dsn = reader.superuser_dsn(APP_DB), writer.superuser_dsn(APP_DB)
    cache = cache_adapter.connect(cache_server.url)
    read_app = create_read_app(settings, cache=cache)
    reads = staff_client(read_app)
    try:
        sku = f"RACE-{uuid.uuid4().hex[:10]}"
        created = staff_client(write_app).post("/products", json={
            "sku": sku, "name": "Raced", "price_cents": 500, "stock": 10})
        assert created.status_code == 201, created.json
        reader.wait_caught_up(reader_proc)
        assert reads.get(f"/products/{sku}").headers["Cache-Status"].endswith("stored")

        _scalar(reader_dsn, "SELECT pg_wal_replay_pause()")
        try:
            _poll(lambda: _scalar(reader_dsn, "SELECT pg_get_wal_replay_pause_state()")
                  == "paused", "replay paused")
            restocked = staff_client(write_app).post(f"/products/{sku}/stock",
                                                     json={"mode": "set", "quantity": 77})
            assert restocked.status_code == 200, restocked.json
            written = _scalar(writer_dsn, "SELECT pg_current_wal_lsn()")
            _poll(lambda: _scalar(reader_dsn, "SELECT pg_last_wal_receive_lsn() >= %s::pg_lsn",
                                  (written,)), "WAL received by the replica")
            detail = _scalar(writer_dsn, "SELECT detail FROM outbox WHERE event_type = "
                             "'ProductRestocked' AND detail->>'sku' = %s", (sku,))
            pc.evict_for_event(cache, "ProductRestocked", detail)  # as the worker does

            stale = reads.get(f"/products/{sku}")
            assert stale.headers["Cache-Status"].endswith("fwd=miss; stored")
            assert stale.json["stock"] == 10, "the reader has not replayed the restock"
            ttl = cache_server.client().pttl(pc.product_key(ProductRef(sku=sku)))
            assert 0 < ttl <= pc.SETTLING_TTL_MS
        finally:
            _scalar(reader_dsn, "SELECT pg_wal_replay_resume()")

        _poll(lambda: reads.get(f"/products/{sku}").json["stock"] == 77,
              "the restock on the cached read API")
    finally:
        read_app.extensions["order_platform"].database.close()
        cache.close()
