"""PostgreSQL connection pools and explicit transactions.

A ``Database`` is one pool for one endpoint (writer or reader). Pools are built by
a process's composition root, never at import. ``transaction()`` commits once at
the end of the block or rolls back; code inside never commits.
"""

from __future__ import annotations

import contextlib
import logging
import operator
import select
from collections.abc import Iterator

import psycopg2
import psycopg2.errors
import psycopg2.extras

from order_platform.adapters import deadlines, few_trips
from order_platform.adapters.credentials import SecretsManagerCredentials
from order_platform.adapters.pool import ConnectionPool, PoolWatch

log = logging.getLogger(__name__)

psycopg2.extras.register_uuid()


DEFAULT_DEADLINE_SECONDS = 10.0
"""How long any one database call may wait for the server, when a pool does not say."""
KEEPALIVE_IDLE_SECONDS = 5
KEEPALIVE_INTERVAL_SECONDS = 2
KEEPALIVE_COUNT = 3
CLIENT_CHECK_INTERVAL_MS = 2_000

# OperationalErrors after which the connection is still usable.
_SESSION_SURVIVES = (psycopg2.errors.QueryCanceled, psycopg2.errors.LockNotAvailable)


def is_auth_failure(exc: BaseException) -> bool:
    """True when PostgreSQL rejected the password (psycopg2 gives no pgcode at connect)."""
    text = str(exc)
    return "password authentication failed" in text or "28P01" in text


_NAME = operator.attrgetter("name")


class DictRowCursor(psycopg2.extensions.cursor):
    """A cursor whose rows are plain dicts keyed by column name.

    What RealDictCursor gives, built with one ``dict(zip(...))`` per row instead of a
    Python ``__setitem__`` per column: every query of every request goes through it.
    """

    def fetchone(self) -> dict | None:
        """The next row as a dict, or None."""
        row = super().fetchone()
        return None if row is None else dict(zip(self._columns(), row, strict=True))

    def fetchall(self) -> list[dict]:
        """The remaining rows as dicts."""
        columns = self._columns()
        return [dict(zip(columns, row, strict=True)) for row in super().fetchall()]

    def fetchmany(self, size: int | None = None) -> list[dict]:
        """Up to ``size`` rows as dicts."""
        columns = self._columns()
        rows = super().fetchmany(self.arraysize if size is None else size)
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def __iter__(self):
        columns = self._columns()
        for row in super().__iter__():
            yield dict(zip(columns, row, strict=True))

    def _columns(self) -> tuple[str, ...]:
        return tuple(map(_NAME, self.description or ()))


def _still_open(conn) -> bool:
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
                  # transaction (``statement()``) is read-only too.
                  "default_transaction_read_only": "on" if readonly else None}
        self._dsn["options"] = " ".join(f"-c {name}={value}" for name, value in limits.items()
                                        if value is not None)
        self._credentials = credentials
        self._pool = ConnectionPool(self._open, max_connections, usable=_still_open,
                                    watch=watch)

    def _open(self):
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
        # No set_session(readonly=...): psycopg2 would then re-send the setting whenever
        # a borrower flips autocommit (a round trip each way). A reader pool is
        # read-only through the session default in its options, which covers both modes.
        return conn

    def connection(self) -> _Lease:
        """Borrow a connection (``with db.connection() as conn``); a broken one is discarded
        rather than returned."""
        return _Lease(self)

    def statement(self) -> _Statement:
        """A cursor whose statements each commit on their own (autocommit).

        For work that is one statement (a read, one atomic write), it saves the BEGIN and
        COMMIT round trips of ``transaction()``: a third of a single read's time.
        """
        return _Statement(self)

    def in_few_trips(self) -> _InFewTrips:
        """One transaction whose BEGIN, deferred writes and COMMIT ride with its statements
        (``with db.in_few_trips() as tx``, see ``few_trips.FewTrips``): it commits at the end
        of the block and rolls back on any exception, like ``transaction()``."""
        return _InFewTrips(self)

    def _give_back(self, conn, failure: BaseException | None, *, lost: bool = False) -> None:
        """Return a lent connection after a block that ended with ``failure`` (or None);
        ``lost``: the caller knows the session is unusable."""
        # A cancelled statement or a lock timeout leaves a healthy session behind (the
        # transaction is rolled back below); any other OperationalError may have lost it.
        broken = lost or (isinstance(failure, psycopg2.OperationalError)
                          and not isinstance(failure, _SESSION_SURVIVES)) or bool(conn.closed)
        if not broken and conn.status != psycopg2.extensions.STATUS_READY:
            try:
                conn.rollback()
            except psycopg2.Error:
                broken = True
        self._pool.release(conn, discard=broken)
        if broken:
            # A session lost to a restart or failover means its idle siblings are gone
            # too: drop them now rather than fail one call on each of them.
            self._pool.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[DictRowCursor]:
        """One transaction: commit at the end of the block, roll back on any exception."""
        with self.connection() as conn:
            try:
                with conn.cursor(cursor_factory=DictRowCursor) as cur:
                    yield cur
                conn.commit()
            except BaseException:
                if not conn.closed:
                    conn.rollback()
                raise

    def ping(self) -> None:
        """Raise unless the endpoint answers a trivial query."""
        with self.statement() as cur:
            cur.execute("SELECT 1")

    def close(self) -> None:
        """Close every idle pooled connection."""
        self._pool.close()


def _lend(db: Database, *, autocommit: bool):
    """A pooled connection in the ``autocommit`` mode the borrower needs.

    A pooled connection keeps the mode its last borrower left, and is switched only when it
    differs. Switching costs no round trip, but psycopg2 lets go of the GIL to take its
    connection lock, and under a threaded server every such release can hand the GIL to
    another thread and put this one to sleep until it gets it back.
    """
    conn = db._pool.acquire()
    if conn.autocommit != autocommit:
        try:
            conn.autocommit = autocommit
        except BaseException as failure:
            db._give_back(conn, failure)
            raise
    return conn


# The two ways to borrow are classes, not generator context managers: they run on every
# request, where a generator's frames and contextlib's wrapping cost more than the borrowing.
class _Lease:
    """``Database.connection()``: one pooled connection, not in autocommit, for the length of
    a block."""

    __slots__ = ("_conn", "_db")

    def __init__(self, db: Database) -> None:
        self._db = db

    def __enter__(self):
        self._conn = _lend(self._db, autocommit=False)
        return self._conn

    def __exit__(self, kind, failure, traceback) -> None:
        self._db._give_back(self._conn, failure)


class _Statement:
    """``Database.statement()``: a pooled connection in autocommit, and a cursor on it."""

    __slots__ = ("_conn", "_cursor", "_db")

    def __init__(self, db: Database) -> None:
        self._db = db

    def __enter__(self) -> DictRowCursor:
        conn = self._conn = _lend(self._db, autocommit=True)
        try:
            self._cursor = conn.cursor(cursor_factory=DictRowCursor)
        except BaseException as failure:
            self._db._give_back(conn, failure)
            raise
        return self._cursor

    def __exit__(self, kind, failure, traceback) -> None:
        self._finish(failure)

    def _finish(self, failure: BaseException | None, *, lost: bool = False) -> None:
        """Close the cursor and give the connection back (still in autocommit)."""
        conn = self._conn
        try:
            self._cursor.close()
        except BaseException as late:
            self._db._give_back(conn, late)
            raise
        self._db._give_back(conn, failure, lost=lost)


class _InFewTrips(_Statement):
    """``Database.in_few_trips()``: ``statement()``'s autocommit connection and cursor, and the
    transaction that says its own BEGIN and COMMIT on them."""

    __slots__ = ("_tx",)

    def __enter__(self) -> few_trips.FewTrips:
        self._tx = few_trips.FewTrips(super().__enter__())
        return self._tx

    def __exit__(self, kind, failure, traceback) -> None:
        late = None
        if failure is None:
            try:
                self._tx.commit()
            except BaseException as exc:
                late = exc
        ended = few_trips.end(self._conn)  # a block that failed, or a COMMIT that did
        self._finish(late or failure, lost=not ended)
        if late is not None:
            raise late
