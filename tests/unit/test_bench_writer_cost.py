"""bench.writer_cost, bench.pgbench_reference and bench.writer_watch's arithmetic: what
`make bench-pipeline` reports about the writer, from counters read at two moments."""

from __future__ import annotations

import pytest

from bench import pgbench_reference, writer_watch
from bench.writer_cost import Snapshot, Usage, statement_kind
from order_platform.adapters import orders, outbox, processed_events, products

BEFORE = Snapshot(at=100.0, cpu_seconds=2.0, commits=50, rollbacks=1, wal_bytes=10_000,
                  statements={"COMMIT": (40, 0, 0, 1.0),
                              "INSERT INTO outbox": (10, 10, 5_000, 2.0)},
                  tables={"outbox": (10, 4, 0, 0)})
AFTER = Snapshot(at=110.0, cpu_seconds=3.0, commits=80, rollbacks=3, wal_bytes=30_000,
                 statements={"COMMIT": (70, 0, 0, 1.5),
                             "INSERT INTO outbox": (30, 30, 15_000, 6.0),
                             "UPDATE outbox SET": (3, 30, 4_000, 1.0)},
                 tables={"outbox": (30, 34, 0, 0), "products": (0, 0, 0, 0)})


def test_usage_is_after_less_before_and_new_statements_count_from_zero():
    usage = Usage.between(BEFORE, AFTER)
    assert (usage.seconds, usage.cpu_seconds, usage.commits, usage.rollbacks,
            usage.wal_bytes) == (10.0, 1.0, 30, 2, 20_000)
    assert usage.statements == {"COMMIT": (30, 0, 0, 0.5),
                                "INSERT INTO outbox": (20, 20, 10_000, 4.0),
                                "UPDATE outbox SET": (3, 30, 4_000, 1.0)}
    assert usage.tables == {"outbox": (20, 30, 0, 0)}  # an unchanged table is left out


def test_per_order_figures_divide_every_counter_and_group_statements_by_kind():
    per = Usage.between(BEFORE, AFTER).per(10)
    assert per["cpu_ms"] == 100.0
    assert per["transactions"] == 3.2
    assert per["statements"] == 5.3
    assert per["wal_bytes"] == 2_000
    assert per["statements_by_kind"] == {"COMMIT": 3.0, "INSERT outbox": 2.0,
                                         "UPDATE outbox": 0.3}
    assert per["wal_bytes_by_statement"] == {"INSERT outbox": 1_000, "UPDATE outbox": 400}
    assert per["statement_ms_by_kind"] == {"COMMIT": 0.05, "INSERT outbox": 0.4,
                                           "UPDATE outbox": 0.1}
    assert per["rows"] == {"outbox": {"inserted": 2.0, "updated": 3.0, "deleted": 0.0,
                                      "hot_updated": 0.0}}


def test_net_takes_away_the_idle_rate_over_as_many_seconds_and_never_goes_negative():
    idle = Usage(seconds=5.0, cpu_seconds=0.05, commits=10, rollbacks=10, wal_bytes=0,
                 statements={"COMMIT": (10, 0, 0, 0.0), "ROLLBACK": (10, 0, 0, 0.0)},
                 tables={})
    net = Usage.between(BEFORE, AFTER).net(idle)  # 10 s: twice the idle window
    assert net.cpu_seconds == pytest.approx(0.9)
    assert (net.commits, net.rollbacks) == (10, 0)
    assert net.statements["COMMIT"] == (10, 0, 0, 0.5)
    assert net.statements["INSERT INTO outbox"] == (20, 20, 10_000, 4.0)


@pytest.mark.parametrize(("query", "kind"), [
    (outbox.INSERT_EVENT, "INSERT outbox"),
    (outbox.CLAIM, "SELECT outbox FOR UPDATE"),
    (outbox.BACKLOG, "SELECT outbox"),  # not "SELECT now": extract(epoch FROM now() ...)
    (outbox.PUBLISHED, "UPDATE outbox"),
    (orders.ADD_ORDER, "WITH INSERT orders, INSERT order_lines, INSERT order_status_history"),
    (processed_events.CLAIM_ORDER, "WITH INSERT processed_events"),
    (products.DEDUCT, "UPDATE products"),
    ("BEGIN", "BEGIN"), ("COMMIT", "COMMIT"), ("SAVEPOINT deduct", "SAVEPOINT"),
    ("PREPARE op_3 AS UPDATE outbox SET published_at = now()", "UPDATE outbox"),
])
def test_statement_kinds_name_the_verb_and_the_table(query, kind):
    assert statement_kind(query) == kind


PGBENCH_REPORT = """pgbench (18.1)
transaction type: <builtin: TPC-B (sort of)>
scaling factor: 8
number of clients: 8
number of transactions per client: 500
number of transactions actually processed: 4000/4000
number of failed transactions: 0 (0.000%)
latency average = 5.2 ms
initial connection time = 21.371 ms
tps = 1534.096135 (without initial connection time)
"""


def test_pgbench_report_gives_transactions_and_tps():
    assert pgbench_reference.parse(PGBENCH_REPORT) == (4000, 1534.096135)
    with pytest.raises(ValueError, match="not a pgbench report"):
        pgbench_reference.parse("connection refused")


def test_pgbench_cpu_per_transaction_is_net_of_the_idle_rate():
    run = pgbench_reference.PgbenchRun(clients=8, transactions=4000, tps=1500.0, seconds=2.0,
                                       server_cpu_seconds=1.7)
    assert run.cpu_ms_per_transaction() == 0.425
    assert run.cpu_ms_per_transaction(idle_cpu_per_second=0.05) == 0.4


def test_summary_is_the_median_run_in_pgbench_transactions():
    def run(cpu_ms: float, idle_statements: float) -> dict:
        return {"per_order": {"cpu_ms": cpu_ms},
                "idle_per_second": {"statements": idle_statements, "cpu_ms": 3.0}}
    figures = writer_watch.summary([run(4.0, 15), run(3.0, 14), run(5.0, 16)],
                                   {"cpu_ms_per_transaction": 0.5})
    assert figures["writer_cpu_ms_per_order"] == 4.0
    assert figures["writer_cpu_ms_per_order_runs"] == [4.0, 3.0, 5.0]
    assert figures["writer_cost_in_pgbench_transactions"] == 8.0
    assert figures["writer_idle_statements_per_second"] == 15
    assert figures["writer_idle_cpu_ms_per_second"] == 3.0
