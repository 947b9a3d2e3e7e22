"""A transaction in as few round trips as it has reads.

psycopg2 spends a round trip on BEGIN before a transaction's first statement and another on
COMMIT after its last, besides one per statement. A worker's transaction is short (claim the
event, lock the order, change it, stage the next event), so most of its round trips were
these, and under load each costs the worker more CPU (system calls, wake-ups) than the
statement costs PostgreSQL.

``FewTrips`` runs on a connection in autocommit and says BEGIN and COMMIT itself: BEGIN
travels with the first statement, writes whose results nobody reads wait for the next
statement, and COMMIT travels with the last of them. Several statements in one simple query
run in order and stop at the first error, which leaves the transaction aborted; whatever the
block leaves open is rolled back, as PostgreSQL reports it (psycopg2's own status does not
follow a BEGIN and a COMMIT it did not send).

Statements sent together are %-formatted together: a literal ``%`` must be written ``%%``
even in a statement without parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg2
import psycopg2.extensions

_IDLE = psycopg2.extensions.TRANSACTION_STATUS_IDLE


class RolledBack(psycopg2.DatabaseError):
    """COMMIT was answered with ROLLBACK (the transaction had failed): nothing committed."""


class FewTrips:
    """One explicit transaction on a cursor of an autocommit connection."""

    def __init__(self, cur) -> None:
        self._cur = cur
        self._pending: list[str] = ["BEGIN"]
        self._params: list[Any] = []
        self._failed = False
        self.later = _Later(self)
        """A cursor whose ``execute`` defers, for helpers written for a cursor
        (``outbox.add_event``)."""

    def defer(self, sql: str, params: Sequence[Any] = ()) -> None:
        """A statement whose result nobody reads: it goes with the next ``execute`` or the
        COMMIT, in order."""
        if not isinstance(params, (list, tuple)):
            raise TypeError("positional parameters only: statements are sent together")
        self._pending.append(sql)
        self._params.extend(params)

    def execute(self, sql: str, params: Sequence[Any] = ()):
        """Run ``sql`` after everything deferred, in one round trip; the cursor it returns
        holds ``sql``'s result (rows, rowcount)."""
        self.defer(sql, params)
        return self._send()

    def fetchone(self) -> dict | None:
        """The next row of the last ``execute``."""
        return self._cur.fetchone()

    def fetchall(self) -> list[dict]:
        """The remaining rows of the last ``execute``."""
        return self._cur.fetchall()

    def commit(self) -> None:
        """Send what is deferred and COMMIT, in one round trip; ``RolledBack`` unless it
        committed."""
        self.defer("COMMIT")
        if self._send().statusmessage != "COMMIT":
            raise RolledBack("the transaction had failed; COMMIT rolled it back")

    def _send(self):
        if self._failed:
            # A caller that caught the error of an earlier trip must not go on: the server
            # ignores everything until the rollback, or ran it outside the transaction.
            raise psycopg2.InterfaceError("this transaction failed; it can only roll back")
        text, params = ";\n".join(self._pending), self._params
        self._pending, self._params = [], []
        try:
            self._cur.execute(text, params or None)  # None: no %-formatting of a bare COMMIT
        except BaseException:
            self._failed = True
            raise
        return self._cur


class _Later:
    def __init__(self, tx: FewTrips) -> None:
        self.execute = tx.defer


def end(conn) -> bool:
    """Roll back whatever transaction ``conn`` is in; False when the session is lost."""
    if conn.closed:
        return False
    if conn.info.transaction_status == _IDLE:
        return True
    try:
        with conn.cursor() as cur:
            cur.execute("ROLLBACK")
    except psycopg2.Error:
        return False
    return conn.info.transaction_status == _IDLE
