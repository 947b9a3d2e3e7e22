"""PostgreSQL connection pools and explicit transactions.

A ``Database`` is one pool for one endpoint (writer or reader). Pools are built by
a process's composition root, never at import. ``transaction()`` commits once at
the end of the block or rolls back; code inside never commits.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import psycopg2
import psycopg2.errors
import psycopg2.extras

from order_platform.adapters.credentials import SecretsManagerCredentials
from order_platform.adapters.pool import ConnectionPool

log = logging.getLogger(__name__)

psycopg2.extras.register_uuid()


# OperationalErrors after which the connection is still usable.
_SESSION_SURVIVES = (psycopg2.errors.QueryCanceled, psycopg2.errors.LockNotAvailable)


def is_auth_failure(exc: BaseException) -> bool:
    """True when PostgreSQL rejected the password (psycopg2 gives no pgcode at connect)."""
    text = str(exc)
    return "password authentication failed" in text or "28P01" in text


class Database:
    """A bounded, thread-safe pool for one endpoint, re-reading credentials on auth failure."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        dbname: str,
        credentials: SecretsManagerCredentials,
        max_connections: int,
        readonly: bool = False,
        application_name: str = "order-platform",
        connect_timeout: int = 5,
        statement_timeout_ms: int | None = None,
        lock_timeout_ms: int | None = None,
    ) -> None:
        self.host = host
        self._dsn = dict(host=host, port=port, dbname=dbname,
                         application_name=application_name, connect_timeout=connect_timeout)
        # Session settings sent at connect, so every statement on every pooled connection
        # is bounded; PostgreSQL cancels past them (QueryCanceled / LockNotAvailable).
        limits = {"statement_timeout": statement_timeout_ms, "lock_timeout": lock_timeout_ms}
        options = " ".join(f"-c {name}={ms}" for name, ms in limits.items() if ms is not None)
        if options:
            self._dsn["options"] = options
        self._credentials = credentials
        self._readonly = readonly
        self._pool = ConnectionPool(self._open, max_connections)

    def _open(self):
        creds = self._credentials.current()
        try:
            conn = psycopg2.connect(user=creds.username, password=creds.password, **self._dsn)
        except psycopg2.OperationalError as exc:
            if not is_auth_failure(exc):
                raise
            # The managed password rotated under us: fetch the secret once more.
            log.warning("database authentication failed; re-fetching the secret")
            creds = self._credentials.refresh()
            conn = psycopg2.connect(user=creds.username, password=creds.password, **self._dsn)
        conn.set_session(readonly=self._readonly, autocommit=False)
        return conn

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """Borrow a connection; a broken one is discarded rather than returned."""
        conn = self._pool.acquire()
        broken = False
        try:
            yield conn
        except psycopg2.OperationalError as exc:
            # A cancelled statement or a lock timeout leaves a healthy session behind
            # (the transaction is rolled back below); anything else may have lost it.
            broken = not isinstance(exc, _SESSION_SURVIVES)
            raise
        finally:
            broken = broken or bool(conn.closed)
            if not broken and conn.status != psycopg2.extensions.STATUS_READY:
                try:
                    conn.rollback()
                except psycopg2.Error:
                    broken = True
            self._pool.release(conn, discard=broken)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg2.extras.RealDictCursor]:
        """One transaction: commit at the end of the block, roll back on any exception."""
        with self.connection() as conn:
            try:
                with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                    yield cur
                conn.commit()
            except BaseException:
                if not conn.closed:
                    conn.rollback()
                raise

    def ping(self) -> None:
        """Raise unless the endpoint answers a trivial query."""
        with self.transaction() as cur:
            cur.execute("SELECT 1")

    def close(self) -> None:
        """Close every idle pooled connection."""
        self._pool.close()
