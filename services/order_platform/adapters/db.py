"""PostgreSQL connection pools, and the sessions the adapters run their statements in.

A ``Database`` is one pool for one endpoint (writer or reader). Pools are built by a
process's composition root, never at import. Every statement runs in a ``session.Session``
on a pooled connection: a unit of work's transaction (``adapters.unit_of_work``), or the
read side's single statements.
"""

from __future__ import annotations

import contextlib
import logging
import select
from collections.abc import Iterator

import psycopg2
import psycopg2.errors
import psycopg2.extras

from order_platform.adapters import deadlines
from order_platform.adapters.credentials import CredentialsError, SecretsManagerCredentials
from order_platform.adapters.deadlines import BoundedConnection
from order_platform.adapters.pool import ConnectionPool, PoolWatch
from order_platform.adapters.session import Session

log = logging.getLogger(__name__)

psycopg2.extras.register_uuid()  # type: ignore[no-untyped-call]


DEFAULT_DEADLINE_SECONDS = 10.0
"""How long any one database call may wait for the server, when a pool does not say."""
KEEPALIVE_IDLE_SECONDS = 5
KEEPALIVE_INTERVAL_SECONDS = 2
KEEPALIVE_COUNT = 3
CLIENT_CHECK_INTERVAL_MS = 2_000

# OperationalErrors after which the connection is still usable.
_SESSION_SURVIVES = (psycopg2.errors.QueryCanceled, psycopg2.errors.LockNotAvailable)

DATABASE_DOWN = (psycopg2.OperationalError, psycopg2.InterfaceError,
                 psycopg2.errors.ReadOnlySqlTransaction, CredentialsError)
"""The database unreachable, frozen (a client deadline), failing over (the writer endpoint
briefly names a reader), or its secret unreadable: an outage to wait out, not a bug."""


def is_auth_failure(exc: BaseException) -> bool:
    """True when PostgreSQL rejected the password (psycopg2 gives no pgcode at connect)."""
    text = str(exc)
    return "password authentication failed" in text or "28P01" in text


def _still_open(conn: BoundedConnection) -> bool:
    """False for an idle connection the server has closed (a restart, a failover, an idle
    timeout): a closing server writes its farewell and EOF, so an idle socket that has
    something to read is a dead one. A syscall, not a round trip."""
    if conn.closed:
        return False
    readable, _, _ = select.select([conn], [], [], 0)
    return not readable


class Database:
    """A bounded, thread-safe pool for one endpoint, re-reading credentials on auth failure."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        dbname: str,
        credentials: SecretsManagerCredentials,
        ssl_root_cert: str,
        max_connections: int,
        readonly: bool = False,
        application_name: str = "order-platform",
        statement_timeout_ms: int | None = None,
        lock_timeout_ms: int | None = None,
        idle_in_transaction_timeout_ms: int | None = None,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
        watch: PoolWatch | None = None,
    ) -> None:
        self.host = host
        # Ours: every call, connecting included, ends after the deadline.
        self._deadline = deadline_seconds
        self._dsn = dict(host=host, port=port, dbname=dbname, application_name=application_name,
                         # TLS, with the server's certificate checked against our CA and its
                         # name against ``host``: libpq's default (prefer) checks neither.
                         sslmode="verify-full", sslrootcert=ssl_root_cert,
                         # A peer that vanished (no FIN) is noticed in seconds, both ways.
                         keepalives=1, keepalives_idle=KEEPALIVE_IDLE_SECONDS,
                         keepalives_interval=KEEPALIVE_INTERVAL_SECONDS,
                         keepalives_count=KEEPALIVE_COUNT)
        # Session settings sent at connect, so every statement on every pooled connection
        # is bounded; PostgreSQL cancels past them (QueryCanceled / LockNotAvailable), and
        # ends a session left idle inside a transaction (a client frozen or cut off in the
        # middle of one), releasing its locks.
        limits = {"statement_timeout": statement_timeout_ms, "lock_timeout": lock_timeout_ms,
                  "idle_in_transaction_session_timeout": idle_in_transaction_timeout_ms,
                  "tcp_keepalives_idle": KEEPALIVE_IDLE_SECONDS,
                  "tcp_keepalives_interval": KEEPALIVE_INTERVAL_SECONDS,
                  "tcp_keepalives_count": KEEPALIVE_COUNT,
                  # Checks for a client gone while a query runs, not only when it answers.
                  "client_connection_check_interval": CLIENT_CHECK_INTERVAL_MS,
                  # The server's own default, so that a single statement outside an explicit
                  # transaction is read-only too.
                  "default_transaction_read_only": "on" if readonly else None,
                  # A unit of work's statements are prepared once per connection (``prepared``):
                  # planned once too, not again with each call's values (their plans do not
                  # depend on them: keys, limits, arrays of keys).
                  "plan_cache_mode": "force_generic_plan"}
        self._dsn["options"] = " ".join(f"-c {name}={value}" for name, value in limits.items()
                                        if value is not None)
        self._credentials = credentials
        self._pool = ConnectionPool(self._open, max_connections, usable=_still_open,
                                    watch=watch)

    def _open(self) -> BoundedConnection:
        creds = self._credentials.current()
        try:
            conn = deadlines.connect(self._deadline, user=creds.username,
                                     password=creds.password, **self._dsn)
        except psycopg2.OperationalError as exc:
            if not is_auth_failure(exc):
                raise
            # The managed password rotated under us: fetch the secret once more.
            log.warning("database authentication failed; re-fetching the secret")
            creds = self._credentials.refresh()
            conn = deadlines.connect(self._deadline, user=creds.username,
                                     password=creds.password, **self._dsn)
        # Sessions say BEGIN and COMMIT themselves (``session``), so every connection stays
        # in autocommit. A reader pool is read-only through the session default in its
        # options, which covers transactions and single statements alike.
        try:
            conn.autocommit = True
        except BaseException:
            conn.close()
            raise
        return conn

    def open_session(self, *, transaction: bool = True) -> Session:
        """A session on a connection of the pool (waiting for one if all are lent); give it
        back with ``close_session``."""
        conn = self._pool.acquire()
        try:
            return Session(conn, transaction=transaction)
        except BaseException as failure:
            self._give_back(conn, failure)
            raise

    def close_session(self, session: Session, failure: BaseException | None) -> None:
        """Roll back what ``session`` left open (a block that ended with ``failure``, or
        None) and give its connection back, or drop it when it is lost."""
        ended = session.rollback()
        try:
            session.close()
        except psycopg2.Error:
            ended = False
        self._give_back(session.connection, failure, lost=not ended)

    @contextlib.contextmanager
    def session(self, *, transaction: bool = True) -> Iterator[Session]:
        """``open_session`` for the length of a block: a transaction that commits only when
        told to (``Session.commit``), or, without one, statements that each commit alone."""
        session = self.open_session(transaction=transaction)
        failure: BaseException | None = None
        try:
            yield session
        except BaseException as exc:
            failure = exc
            raise
        finally:
            self.close_session(session, failure)

    def _give_back(self, conn: BoundedConnection, failure: BaseException | None, *,
                   lost: bool = False) -> None:
        """Return a lent connection after a block that ended with ``failure`` (or None);
        ``lost``: the caller knows the session is unusable."""
        # A cancelled statement or a lock timeout leaves a healthy session behind (the
        # session rolled its transaction back); any other OperationalError may have lost it.
        broken = lost or (isinstance(failure, psycopg2.OperationalError)
                          and not isinstance(failure, _SESSION_SURVIVES)) or bool(conn.closed)
        self._pool.release(conn, discard=broken)
        if broken:
            # A session lost to a restart or failover means its idle siblings are gone
            # too: drop them now rather than fail one call on each of them.
            self._pool.close()

    def ping(self) -> None:
        """Raise unless the endpoint answers a trivial query."""
        with self.session(transaction=False) as session:
            session.execute("SELECT 1").one()

    def close(self) -> None:
        """Close every idle pooled connection."""
        self._pool.close()
