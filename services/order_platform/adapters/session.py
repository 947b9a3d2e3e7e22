"""The one way the adapters run SQL: ``Session.execute``, in as few round trips as its reads need.

psycopg2 spends a round trip on BEGIN before a transaction's first statement and another on
COMMIT after its last, besides one per statement; a short transaction's trips were mostly
these, and each costs the client more CPU (system calls, wake-ups, the GIL) than the
statement costs PostgreSQL. So a session runs on a connection in autocommit and says BEGIN
and COMMIT itself, and ``execute`` only queues a statement: everything queued goes to the
server in one round trip when a ``Result`` is read, or with the COMMIT. BEGIN rides with the
first trip, writes nobody reads wait for the next read, and a unit of work that reads once
and writes takes two trips in all.

Several statements in one query run in order and stop at the first error, which leaves the
transaction aborted: the session then refuses to send more, and whatever it leaves open is
rolled back as PostgreSQL reports it (psycopg2's own status does not follow a BEGIN and a
COMMIT it did not send). Statements sent together are %-formatted together: a literal ``%``
must be written ``%%`` even in a statement without parameters.

A transaction's statements go as ``EXECUTE``s of statements the connection prepared once
(``prepared``), so the writer parses and plans each only once per connection. A session opened
without a transaction (the read side's single statements) sends each read alone, as text, in
autocommit. Every trip is bounded by the connection's deadline (``deadlines``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg2
import psycopg2.extensions

from order_platform.adapters import prepared
from order_platform.adapters.deadlines import BoundedConnection, guarded

Row = dict[str, Any]
_IDLE = psycopg2.extensions.TRANSACTION_STATUS_IDLE


class RolledBack(psycopg2.DatabaseError):
    """COMMIT was answered with ROLLBACK (the transaction had failed): nothing committed."""


class ResultLost(RuntimeError):
    """A result read after statements queued behind it went in the same trip: only the last
    statement of a trip has its result kept. Read a result before queuing the next."""


_QUEUED, _ANSWERED, _LOST = 0, 1, 2


class Result:
    """What one queued statement returns: sent (with everything queued before it) on the
    first read of ``one``, ``all`` or ``rowcount``."""

    __slots__ = ("_columns", "_fetch", "_rowcount", "_rows", "_state")

    def __init__(self, fetch: Callable[[Result], None]) -> None:
        self._fetch = fetch
        self._state = _QUEUED
        self._columns: tuple[str, ...] = ()
        self._rows: list[tuple[Any, ...]] = []
        self._rowcount = -1

    def settle(self, columns: tuple[str, ...], rows: list[tuple[Any, ...]],
               rowcount: int) -> None:
        """Keep what the server answered (the session calls this)."""
        self._state, self._columns, self._rows, self._rowcount = _ANSWERED, columns, rows, rowcount

    def lose(self) -> None:
        """The statement was sent, not last of its trip (the session calls this)."""
        self._state = _LOST

    def all(self) -> list[Row]:
        """Every row, as a dict keyed by column name."""
        self._answered()
        columns = self._columns
        return [dict(zip(columns, row, strict=True)) for row in self._rows]

    def one(self) -> Row | None:
        """The first row, or None."""
        self._answered()
        return dict(zip(self._columns, self._rows[0], strict=True)) if self._rows else None

    @property
    def rowcount(self) -> int:
        """Rows the statement returned or changed."""
        self._answered()
        return self._rowcount

    def _answered(self) -> None:
        if self._state == _QUEUED:
            self._fetch(self)
        if self._state != _ANSWERED:
            raise ResultLost("this statement's result was not kept (see ResultLost)")


class Session:
    """One unit of work's statements on one connection (in autocommit; see the module)."""

    def __init__(self, connection: BoundedConnection, *, transaction: bool) -> None:
        self.connection = connection
        self._cursor = connection.cursor()
        self._queued: list[tuple[str, Sequence[Any], Result | None]] = []
        self._transaction = transaction
        self._begin = transaction
        """BEGIN is still to be sent, with the first trip."""
        self._failed = False
        self._unsure = False
        """A failed trip carried PREPAREs: which of them ran is unknown until DEALLOCATE ALL."""
        self._prepares = transaction and isinstance(connection, BoundedConnection)
        """A transaction's statements are prepared on a pool's connection (``prepared``)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        """Queue ``sql``; its ``Result`` sends it when read (see the module)."""
        if not isinstance(params, (list, tuple)):
            raise TypeError("positional parameters only: statements are sent together")
        result = Result(self._send_through)
        self._queued.append((sql, params, result))
        return result

    def commit(self) -> None:
        """Send what is queued and COMMIT, in one round trip; ``RolledBack`` unless it
        committed. A transaction that sent and queued nothing costs no trip."""
        if not self._transaction or (self._begin and not self._queued):
            if self._queued:
                self._trip(len(self._queued))
            return
        self._queued.append(("COMMIT", (), None))
        answer = self._trip(len(self._queued)).statusmessage
        self._begin = True  # what comes next is another transaction
        if answer != "COMMIT":
            raise RolledBack("the transaction had failed; COMMIT rolled it back")

    def rollback(self) -> bool:
        """Forget what is queued and roll back whatever is open; False when the connection is
        lost (it must not be used again)."""
        self._queued.clear()
        self._begin = self._transaction
        conn = self.connection
        if conn.closed:
            return False
        if conn.info.transaction_status != _IDLE or self._unsure:
            try:
                with conn.cursor() as cur:
                    guarded(conn, cur.execute, "ROLLBACK; DEALLOCATE ALL" if self._unsure
                            else "ROLLBACK")
            except psycopg2.Error:
                return False
            if self._unsure:
                self._unsure = False
                conn.prepared_names = None
        self._failed = conn.info.transaction_status != _IDLE
        return not self._failed

    def close(self) -> None:
        """Close the cursor (the connection is the pool's)."""
        self._cursor.close()

    def _send_through(self, result: Result) -> None:
        for position, (_, _, queued) in enumerate(self._queued):
            if queued is result:
                self._trip(position + 1)
                return
        raise ResultLost("this result's session sent or forgot its statement")

    def _trip(self, count: int) -> psycopg2.extensions.cursor:
        """Send the first ``count`` queued statements (after BEGIN, if it is due) at once."""
        if self._failed:
            # A caller that caught the error of an earlier trip must not go on: the server
            # ignores everything until the rollback, or would run it outside the transaction.
            raise psycopg2.InterfaceError("this transaction failed; it can only roll back")
        sent, self._queued = self._queued[:count], self._queued[count:]
        texts, params, preparing = self._texts(sent)
        if self._begin:
            texts.insert(0, "BEGIN")
            self._begin = False
        cur = self._cursor
        try:
            guarded(self.connection, cur.execute, ";\n".join(texts), params or None)
        except BaseException:
            self._failed = True
            self._unsure = self._unsure or bool(preparing)
            for _, _, queued in sent:
                if queued is not None:
                    queued.lose()
            raise
        if preparing:
            self._names().update(preparing)
        for _, _, queued in sent[:-1]:
            if queued is not None:
                queued.lose()
        last = sent[-1][2]
        if last is not None:
            description = cur.description
            if description is None:
                last.settle((), [], cur.rowcount)
            else:
                last.settle(tuple(c.name for c in description), cur.fetchall(), cur.rowcount)
        return cur

    def _names(self) -> set[str]:
        conn = self.connection
        if conn.prepared_names is None:
            conn.prepared_names = set()
        return conn.prepared_names

    def _texts(self, sent: list[tuple[str, Sequence[Any], Result | None]]
               ) -> tuple[list[str], list[Any], list[str]]:
        """The trip's statements and parameters, and the names it prepares: a transaction's
        statements as EXECUTEs of prepared ones (``prepared.trip``), others as they are."""
        if self._prepares:
            return prepared.trip(((sql, values) for sql, values, _ in sent), self._names())
        return [sql for sql, _, _ in sent], [v for _, values, _ in sent for v in values], []
