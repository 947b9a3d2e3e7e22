"""Several INSERTs sent as one statement: atomic without a transaction, one round trip.

``StatementBatch`` stands in for a cursor: helpers written for one (``outbox.add_event``) call
its ``execute`` with an INSERT, which it records instead of running. ``statement`` then gives
one SQL statement in which each recorded INSERT is a data-modifying CTE beside the caller's
own, and ``params`` its parameters. PostgreSQL runs all of a statement's CTEs or none, and
checks foreign keys at its end, so the rows may reference each other.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any


class StatementBatch:
    """INSERTs recorded to run inside one statement."""

    def __init__(self) -> None:
        self._inserts: list[str] = []
        self.params: list[Any] = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Record an INSERT without RETURNING (its result could not be read)."""
        text = _checked(sql)
        self._inserts.append(text)
        self.params.extend(params)

    def statement(self, ctes: str, result: str) -> str:
        """``WITH <ctes>, <each recorded insert> <result>``: the caller's CTEs come first,
        so their parameters go before ``params``."""
        return _statement(ctes, tuple(self._inserts), result)


# A request's batch is one of a few shapes (the order's statement with its OrderCreated), so
# its SQL text is checked and put together once per shape, not on every request.
@functools.lru_cache(maxsize=64)
def _checked(sql: str) -> str:
    text = sql.strip()
    if not text.upper().startswith("INSERT") or "RETURNING" in text.upper():
        raise ValueError("a batch holds plain INSERTs only")
    return text


@functools.lru_cache(maxsize=64)
def _statement(ctes: str, inserts: tuple[str, ...], result: str) -> str:
    staged = "".join(f",\n    staged_{n} AS ({sql})" for n, sql in enumerate(inserts))
    return f"WITH {ctes}{staged}\n{result}"
