"""The relay's metrics: events by type and outcome, and the backlog it samples (count, age
of the oldest row, parked rows) from the database it publishes."""

from __future__ import annotations

from order_platform import telemetry as t
from order_platform.adapters.metrics import Instruments
from order_platform.adapters.unit_of_work import SqlUnitOfWork
from order_platform.entrypoints.relay import RelayMetrics
from order_platform.service_layer.relay import OutboxRelay
from tests.integration.pipeline.test_relay import _reject_forever, _stage_orders_created
from tests.support.scrape import parse, value


def test_published_rejected_parked_and_the_backlog_are_reported(pipeline):
    ids = _stage_orders_created(pipeline, 4)
    _reject_forever(pipeline, ids[0])
    pipeline.query("UPDATE outbox SET created_at = now() - interval '90 seconds'")
    writer = pipeline.database(size=2)
    instruments = Instruments(t.RELAY_METRICS)
    metrics = RelayMetrics(instruments, writer, every_seconds=0)

    def seen(name: str, **labels: str) -> float:
        return value(parse(instruments.exposition()[0].decode()), name, **labels)

    metrics.sample()
    assert seen(t.OUTBOX_BACKLOG.name) == 4
    assert 90 <= seen(t.OUTBOX_OLDEST_AGE.name) < 900

    relay = OutboxRelay(SqlUnitOfWork(writer), pipeline.bus(), max_attempts=1, watch=metrics)
    report = relay.publish_batch()
    metrics.sample()
    assert (report.published, report.parked) == (3, 1)
    assert seen(t.OUTBOX_PUBLISHED.name, event_type="OrderCreated") == 3
    assert seen(t.OUTBOX_FAILED.name, event_type="OrderCreated") == 1
    assert seen(t.OUTBOX_BACKLOG.name) == 0
    assert seen(t.OUTBOX_OLDEST_AGE.name) == 0
    assert seen(t.OUTBOX_PARKED.name) == 1


def test_a_failed_sample_keeps_the_last_figures(pipeline):
    _stage_orders_created(pipeline, 2)
    writer = pipeline.database(size=1)
    instruments = Instruments(t.RELAY_METRICS)
    metrics = RelayMetrics(instruments, writer, every_seconds=0)
    metrics.sample()
    pipeline.query("ALTER TABLE outbox RENAME TO outbox_away")
    try:
        metrics.sample()  # no exception: a gauge never stops the relay
    finally:
        pipeline.query("ALTER TABLE outbox_away RENAME TO outbox")
    assert value(parse(instruments.exposition()[0].decode()), t.OUTBOX_BACKLOG.name) == 2
