"""Statements prepared once per connection, so the writer parses and plans each only once.

A statement sent as text is parsed, analysed and planned by PostgreSQL on every call; for the
short statements of a unit of work that was about 30 % of the writer's CPU, and preparing them
(planned once: the pool sets ``plan_cache_mode=force_generic_plan``) took a third off its CPU
per order (docs/performance.md, "The writer"). So a unit of work's statements go as
``EXECUTE name(...)`` of a statement the connection prepared the first time it sent it:
``PREPARE name AS ...`` rides in the same round trip, ahead of its first ``EXECUTE``, so it
costs no trip of its own.

The parameters still travel as literals in the query text, as psycopg2 sends every
parameter; a list goes as an array literal (``'{"a","b"}'``), whose type the prepared
statement gives, as a string literal takes the type of its parameter.

A prepared statement belongs to its server session and is not undone by ROLLBACK, so each
connection keeps the names it prepared (``BoundedConnection.prepared_names``). If a trip
fails, the names it carried may or may not exist: the session then forgets them all
(``DEALLOCATE ALL`` with its ROLLBACK), and the next use prepares them again.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any

_PREPARABLE = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH|VALUES)\b", re.I)
_PLACEHOLDER = re.compile(r"%[s%]")

_lock = threading.Lock()
_known: dict[str, tuple[str, str, int]] = {}
"""Statement text -> (name, PREPARE text, parameter count), shared by every connection."""


def plan_for(sql: str) -> tuple[str, str, int] | None:
    """(name, ``PREPARE`` text, parameter count) for ``sql``; None for a statement that is
    not prepared (transaction control: BEGIN, COMMIT, SAVEPOINT, ...)."""
    known = _known.get(sql)
    if known is not None or not _PREPARABLE.match(sql):
        return known
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group() == "%%":
            return "%%"  # still %-formatted with the rest of the trip
        count += 1
        return f"${count}"
    body = _PLACEHOLDER.sub(number, sql)
    with _lock:
        known = _known.get(sql)
        if known is None:
            name = f"op_{len(_known) + 1}"
            known = _known[sql] = (name, f"PREPARE {name} AS {body}", count)
    return known


def trip(statements: Iterable[tuple[str, Sequence[Any]]], known: set[str]
         ) -> tuple[list[str], list[Any], list[str]]:
    """One round trip of ``statements`` (each with its parameters): the texts and parameters
    to send, and the names it prepares. Each statement that can be prepared goes as an
    ``EXECUTE``, with its ``PREPARE`` ahead of it unless the connection has it (``known``)
    or this trip prepares it already; the others go as they are."""
    texts: list[str] = []
    params: list[Any] = []
    preparing: list[str] = []
    for sql, values in statements:
        plan = plan_for(sql)
        if plan is None:
            texts.append(sql)
            params.extend(values)
            continue
        name, prepare, count = plan
        if name not in known and name not in preparing:
            texts.append(prepare)
            preparing.append(name)
        texts.append(execute_text(name, count))
        params.extend(literals(values))
    return texts, params, preparing


def execute_text(name: str, count: int) -> str:
    """``EXECUTE name(%s, ...)`` for ``count`` parameters."""
    return f"EXECUTE {name}({', '.join(['%s'] * count)})" if count else f"EXECUTE {name}"


def literals(params: Sequence[Any]) -> list[Any]:
    """``params`` with each list as an array literal, which takes its parameter's type; a
    list would otherwise go as ARRAY[...] of text, which no uuid[] parameter accepts."""
    return [_array(value) if isinstance(value, list) else value for value in params]


def _array(values: list[Any]) -> str:
    return "{" + ",".join("NULL" if v is None else _element(v) for v in values) + "}"


def _element(value: Any) -> str:
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
