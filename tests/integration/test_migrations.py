"""Migrations: idempotent, and safe when two migrators start at once."""

import threading
import uuid

import psycopg2
from yoyo import get_backend, read_migrations

from order_platform.adapters.schema import MIGRATION_LOCK_KEY, apply_migrations, migrations_dir


def _fresh_database(pg_server):
    name = f"mig_{uuid.uuid4().hex[:10]}"
    password = uuid.uuid4().hex
    pg_server.ensure_role_and_database(role=name, password=password, dbname=name)
    return dict(host="127.0.0.1", port=pg_server.port, dbname=name, user=name,
                password=password)


def _tables(dsn):
    with psycopg2.connect(**dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r[0] for r in cur.fetchall()}


def test_applying_twice_applies_nothing_the_second_time(pg_server):
    dsn = _fresh_database(pg_server)
    first = apply_migrations(**dsn, ssl_root_cert=str(pg_server.ca_file))
    assert first == ["0001.catalog-and-orders", "0002.outbox-and-processed-events",
                     "0003.outbox-parking", "0004.outbox-without-event-id-index",
                     "0005.idempotency-keys-per-customer"]
    assert apply_migrations(**dsn, ssl_root_cert=str(pg_server.ca_file)) == []
    assert {"products", "orders", "outbox", "processed_events"} <= _tables(dsn)


def test_two_migrators_at_once_apply_each_migration_exactly_once(pg_server):
    dsn = _fresh_database(pg_server)
    # Hold the advisory lock so both migrators queue behind it, then release them together.
    holder = psycopg2.connect(**dsn)
    holder.autocommit = True
    with holder.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    results, errors = [], []

    def migrate():
        try:
            results.append(apply_migrations(**dsn, ssl_root_cert=str(pg_server.ca_file)))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(2)]
    for t in threads:
        t.start()
    with psycopg2.connect(**dsn) as conn, conn.cursor() as cur:
        # Wait (bounded) until both migrators are queued on the lock, then let go.
        waiting = 0
        for _ in range(400):
            cur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND NOT granted")
            waiting = cur.fetchone()[0]
            if waiting == 2:
                break
            threading.Event().wait(0.05)
    assert waiting == 2, "both migrators should block on the advisory lock"
    holder.close()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(len(r) for r in results) == [0, 5]


def _order_with_key(cur, customer: str, key: str) -> None:
    """An order of ``customer`` and its Idempotency-Key, inserted as the previous API version
    does (no customer on the key): what runs during a rollout."""
    order_id = uuid.uuid4()
    cur.execute("INSERT INTO orders (id, customer_id, status, total_cents) "
                "VALUES (%s, %s, 'PENDING', 100)", (str(order_id), customer))
    cur.execute("INSERT INTO idempotency_keys (key, request_hash, order_id) VALUES (%s, 'h', %s)",
                (key, str(order_id)))


def _keys(cur) -> list[tuple]:
    cur.execute("SELECT * FROM idempotency_keys ORDER BY created_at, order_id")
    names = [column.name for column in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def test_keys_per_customer_survive_the_previous_version_and_roll_back(pg_server):
    dsn = _fresh_database(pg_server)
    tls = f"sslmode=verify-full&sslrootcert={pg_server.ca_file}"
    backend = get_backend(f"postgresql://{dsn['user']}:{dsn['password']}@{dsn['host']}:"
                          f"{dsn['port']}/{dsn['dbname']}?{tls}")
    migrations = read_migrations(migrations_dir())
    before = migrations.filter(lambda m: m.id < "0005")
    with backend.lock():
        backend.apply_migrations(backend.to_apply(before))
    with psycopg2.connect(**dsn) as conn, conn.cursor() as cur:
        _order_with_key(cur, "alice", "k-old")
    apply_migrations(**dsn, ssl_root_cert=str(pg_server.ca_file))
    with psycopg2.connect(**dsn) as conn, conn.cursor() as cur:
        # The backfill gave the old key its customer; the previous version's inserts still
        # work and take their order's customer, and a second customer may use the same key.
        _order_with_key(cur, "bob", "k-old")
        assert [(k["customer_id"], k["key"]) for k in _keys(cur)] == [
            ("alice", "k-old"), ("bob", "k-old")]
    with backend.lock():
        backend.rollback_migrations(backend.to_rollback(migrations.filter(
            lambda m: m.id.startswith("0005"))))
    with psycopg2.connect(**dsn) as conn, conn.cursor() as cur:
        kept = _keys(cur)
        assert [k["key"] for k in kept] == ["k-old"] and "customer_id" not in kept[0]
    assert apply_migrations(**dsn, ssl_root_cert=str(pg_server.ca_file)) == [
        "0005.idempotency-keys-per-customer"]
