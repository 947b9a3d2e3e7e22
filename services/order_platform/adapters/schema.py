"""Schema migrations: yoyo applies versioned SQL files under a PostgreSQL advisory lock."""

from __future__ import annotations

import logging
from importlib import resources
from urllib.parse import quote, urlencode

import psycopg2
from yoyo import get_backend, read_migrations

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same for every migrator of this schema.
MIGRATION_LOCK_KEY = 0x6F726465  # "orde"


def migrations_dir() -> str:
    """Path of the packaged SQL migrations."""
    return str(resources.files("order_platform") / "migrations")


def apply_migrations(*, host: str, port: int, dbname: str, user: str, password: str,
                     ssl_root_cert: str) -> list[str]:
    """Apply pending migrations; safe to run twice and from two processes at once.

    yoyo has a lock table of its own, but a migrator killed mid-run leaves its row behind
    and blocks every later run until someone breaks the lock by hand. A session-level
    advisory lock is released by PostgreSQL when the session dies, so a Kubernetes Job
    that was OOM-killed can simply be retried.
    """
    # TLS with the server's certificate and name checked, as every pool's (db.py).
    tls = {"sslmode": "verify-full", "sslrootcert": ssl_root_cert}
    guard = psycopg2.connect(host=host, port=port, dbname=dbname, user=user, password=password,
                             application_name="order-migrate", sslmode="verify-full",
                             sslrootcert=ssl_root_cert)
    guard.autocommit = True
    try:
        with guard.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        uri = (f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}"
               f"@{host}:{port}/{quote(dbname, safe='')}?{urlencode(tls)}")
        backend = get_backend(uri)
        migrations = read_migrations(migrations_dir())
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        applied = [m.id for m in pending]
        log.info("migrations applied", extra={"applied": applied})
        return applied
    finally:
        guard.close()  # releases the advisory lock
