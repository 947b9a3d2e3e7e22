"""StatementBatch: recorded INSERTs become CTEs of one statement; nothing else is recorded."""

from __future__ import annotations

import pytest

from order_platform.adapters.batch import StatementBatch


def test_inserts_follow_the_callers_ctes_with_their_parameters_after_the_callers():
    batch = StatementBatch()
    batch.execute("  INSERT INTO outbox (a) VALUES (%s)  ", ("x",))
    batch.execute("insert into outbox (a) values (%s)", ("y",))
    assert batch.statement("mine AS (SELECT %s)", "SELECT 1") == (
        "WITH mine AS (SELECT %s),\n"
        "    staged_0 AS (INSERT INTO outbox (a) VALUES (%s)),\n"
        "    staged_1 AS (insert into outbox (a) values (%s))\n"
        "SELECT 1")
    assert batch.params == ["x", "y"]


def test_each_batch_is_its_own_even_with_the_same_sql():
    first, second = StatementBatch(), StatementBatch()
    first.execute("INSERT INTO t VALUES (%s)", (1,))
    second.execute("INSERT INTO t VALUES (%s)", (2,))
    second.execute("INSERT INTO t VALUES (%s)", (3,))
    assert first.statement("c AS (SELECT 1)", "SELECT 2").count("staged_") == 1
    assert second.statement("c AS (SELECT 1)", "SELECT 2").count("staged_") == 2
    assert (first.params, second.params) == ([1], [2, 3])


@pytest.mark.parametrize("sql", ["UPDATE t SET v = 1", "INSERT INTO t VALUES (1) RETURNING v",
                                 "SELECT 1"])
def test_anything_but_a_plain_insert_is_refused_every_time(sql):
    for _ in range(2):  # the check is cached per text: a repeat must still refuse
        with pytest.raises(ValueError, match="plain INSERTs"):
            StatementBatch().execute(sql)
