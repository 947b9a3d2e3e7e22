"""``prepared.trip``: what one round trip sends, for the API's session and the bare app."""

from __future__ import annotations

from order_platform.adapters import prepared

READ = "SELECT price FROM products WHERE sku = ANY(%s) AND stock > %s"


def test_a_statement_is_prepared_once_then_executed_with_its_parameters():
    name, prepare, count = prepared.plan_for(READ)
    assert (prepare, count) == (
        f"PREPARE {name} AS SELECT price FROM products WHERE sku = ANY($1) AND stock > $2", 2)
    texts, params, preparing = prepared.trip(
        [("BEGIN", ()), (READ, (["a", 'b"'], 0)), (READ, (["c"], 1)), ("COMMIT", ())], set())
    execute = f"EXECUTE {name}(%s, %s)"
    assert texts == ["BEGIN", prepare, execute, execute, "COMMIT"]
    assert params == ['{"a","b\\""}', 0, '{"c"}', 1]  # lists as array literals
    assert preparing == [name]


def test_a_connection_that_has_it_prepared_only_executes_it():
    name, _, _ = prepared.plan_for(READ)
    texts, _, preparing = prepared.trip([(READ, (["a"], 0))], {name})
    assert (texts, preparing) == ([f"EXECUTE {name}(%s, %s)"], [])
