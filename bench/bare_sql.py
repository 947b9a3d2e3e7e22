"""How the bare references (``bare_app``, ``bare_worker``) send SQL on the writer: as the
project's sessions do, a transaction's statements as ``EXECUTE``s of statements the connection
prepared once (``prepared.trip``), planned once (``plan_cache_mode``), so that the benchmarks
set the same SQL side by side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg2

from order_platform.adapters import prepared
from order_platform.adapters.deadlines import BoundedConnection

PLAN_ONCE = "-c plan_cache_mode=force_generic_plan"
"""The pool's option for its connections (``adapters/db.py``)."""


def connect_preparing(**dsn: Any) -> BoundedConnection:
    """A connection that prepares what it sends through ``trip``."""
    conn = psycopg2.connect(**dsn, options=PLAN_ONCE, connection_factory=BoundedConnection)
    conn.prepared_names = set()
    return conn


def trip(conn: BoundedConnection, *statements: tuple[str, Sequence[Any]]
         ) -> tuple[str, list[Any] | None]:
    """One round trip's text and parameters for ``cursor.execute``."""
    names = conn.prepared_names
    assert names is not None, "a connection from connect_preparing"
    texts, values, preparing = prepared.trip(statements, names)
    names.update(preparing)
    return ";\n".join(texts), values or None
