"""A unit of work's statements go as EXECUTEs of statements each pooled connection prepared
once (adapters/prepared.py): the same results as text, on a real PostgreSQL, through
rollbacks and failed trips."""

from __future__ import annotations

import uuid

import psycopg2
import pytest

from order_platform.adapters.db import Database

ECHO = "SELECT %s::text[] AS texts, %s::uuid[] AS ids, %s::int[] AS ints, %s AS plain"
PREPARED = "SELECT count(*) AS n FROM pg_prepared_statements"


def _prepared(session) -> int:
    """How many statements the session's connection holds prepared (this count's included)."""
    return session.execute(PREPARED).one()["n"]


def test_parameters_and_arrays_come_back_as_they_went(database: Database):
    texts = ['a "quoted", {braced} \\ text', "", None, "ünïcode"]
    ids = [uuid.uuid4(), uuid.uuid4()]
    for _ in range(2):  # prepared by the first, executed again by the second
        with database.session() as session:
            row = session.execute(ECHO, (texts, [str(i) for i in ids], [1, -2], "x'y")).one()
            session.commit()
        assert row == {"texts": texts, "ids": ids, "ints": [1, -2], "plain": "x'y"}
    with database.session() as session:
        assert session.execute(ECHO, ([], [], [], None)).one() == {
            "texts": [], "ids": [], "ints": [], "plain": None}


def test_a_statement_is_prepared_once_per_connection_and_survives_a_rollback(database):
    marker = f"m{uuid.uuid4().hex[:8]}"
    statement = f"SELECT %s::int + 1 AS {marker}"
    with database.session() as session:
        assert session.execute(statement, (1,)).one() == {marker: 2}
    # Rolled back (no commit): the statement stays prepared, and is executed, not prepared
    # again (PREPARE would fail: the name exists), however often it runs.
    held = []
    for value in (2, 3, 4):
        with database.session() as session:
            assert session.execute(statement, (value,)).one() == {marker: value + 1}
            held.append(_prepared(session))
            session.commit()
    assert held[0] == held[1] == held[2]
    with database.session() as session:  # and it is there, once
        # The pattern is built by the server: this query's own text holds only the marker.
        assert session.execute(PREPARED + " WHERE statement LIKE '%%+ 1 AS ' || %s || '%%'",
                               (marker,)).one()["n"] == 1


def test_after_a_failed_trip_that_prepared_the_next_block_prepares_again(database):
    marker = f"m{uuid.uuid4().hex[:8]}"
    statement = f"SELECT 10 / %s AS {marker}"
    with pytest.raises(psycopg2.DataError), database.session() as session:
        session.execute(statement, (0,)).one()  # prepared, then failed executing
    with database.session() as session:  # the pool's one connection, after DEALLOCATE ALL
        assert session.execute(statement, (5,)).one() == {marker: 2}
        assert _prepared(session) == 2  # this statement and the count, nothing from before
        session.commit()


def test_prepared_statements_are_planned_once_not_with_each_calls_values(database: Database):
    # A generic plan from the first call on: without it PostgreSQL plans a prepared statement
    # again with the values of each of its first calls and keeps weighing the two after that.
    with database.session() as session:
        row = session.execute("SELECT current_setting('plan_cache_mode') AS mode").one()
        session.commit()
    assert row == {"mode": "force_generic_plan"}
