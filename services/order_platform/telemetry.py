"""The metric catalogue: every metric the processes expose, declared once.

The services create their Prometheus metrics from it (``adapters/metrics.py``), and the
Pulumi program builds its CloudWatch dashboard and alarms from the same names, so a renamed
metric cannot leave a widget or an alarm watching nothing. Standard library only, so that the
Pulumi program and the policy pack can import it.

Names follow Prometheus conventions: ``_total`` counters, ``_seconds`` durations, base units.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from order_platform import processes

NAMESPACE = "order_platform"
"""Every metric name starts with this."""


class Kind(StrEnum):
    """A Prometheus metric type."""

    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


@dataclass(frozen=True)
class Metric:
    """One metric: its full name, type, labels and meaning."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()
    """Histogram bucket bounds, in the metric's unit."""


LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SETTLE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
AGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


def _m(name: str, kind: Kind, help_: str, labels: tuple[str, ...] = (),
       buckets: tuple[float, ...] = ()) -> Metric:
    return Metric(f"{NAMESPACE}_{name}", kind, help_, labels, buckets)


# --- the APIs --------------------------------------------------------------------------------
HTTP_REQUESTS = _m("http_requests_total", Kind.COUNTER,
                   "HTTP requests answered, by route template, method and status.",
                   ("route", "method", "status"))
HTTP_DURATION = _m("http_request_duration_seconds", Kind.HISTOGRAM,
                   "Time to answer an HTTP request, by route template and method.",
                   ("route", "method"), LATENCY_BUCKETS)
HTTP_IN_FLIGHT = _m("http_requests_in_flight", Kind.GAUGE, "Requests being answered now.")
DB_POOL_IN_USE = _m("db_pool_connections_in_use", Kind.GAUGE,
                    "Pooled database connections lent out now, by endpoint.", ("endpoint",))
DB_POOL_SIZE = _m("db_pool_connections_max", Kind.GAUGE,
                  "Connections a pool may open, by endpoint.", ("endpoint",))
DB_POOL_WAIT = _m("db_pool_wait_seconds", Kind.HISTOGRAM,
                  "Time spent waiting for a pooled connection, by endpoint.", ("endpoint",),
                  (0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0))

# --- the relay -------------------------------------------------------------------------------
OUTBOX_BACKLOG = _m("outbox_backlog", Kind.GAUGE, "Outbox rows not yet published (parked ones "
                    "excluded).")
OUTBOX_OLDEST_AGE = _m("outbox_oldest_age_seconds", Kind.GAUGE,
                       "Age of the oldest outbox row not yet published.")
OUTBOX_PUBLISHED = _m("outbox_events_published_total", Kind.COUNTER,
                      "Events the bus accepted, by event type.", ("event_type",))
OUTBOX_FAILED = _m("outbox_events_failed_total", Kind.COUNTER,
                   "Events the bus rejected (they are retried), by event type.", ("event_type",))
OUTBOX_PARKED = _m("outbox_parked_rows", Kind.GAUGE,
                   "Outbox rows the relay gave up on (order-platform dlq outbox).")

# --- the worker ------------------------------------------------------------------------------
MESSAGES_RECEIVED = _m("worker_messages_received_total", Kind.COUNTER,
                       "SQS messages received, by queue.", ("queue",))
RECEIVES = _m("worker_receives_total", Kind.COUNTER,
              "ReceiveMessage calls that SQS answered, by queue: messages received per receive "
              "is the batching the worker achieves (each receive costs the same CPU).",
              ("queue",))
MESSAGES_HANDLED = _m("worker_messages_handled_total", Kind.COUNTER,
                      "Messages handled, by queue and outcome (confirmed, rejected, "
                      "stock_validated, duplicate, stale, failed, held).",
                      ("queue", "outcome"))
HANDLER_DURATION = _m("worker_handler_duration_seconds", Kind.HISTOGRAM,
                      "Time a handler took, by queue.", ("queue",), LATENCY_BUCKETS)
VISIBILITY_EXTENSIONS = _m("worker_visibility_extensions_total", Kind.COUNTER,
                           "Leases renewed (messages kept invisible a while longer).")
MESSAGE_AGE = _m("worker_message_age_seconds", Kind.HISTOGRAM,
                 "Time from an event's creation to its handling: the queue lag users feel, "
                 "by queue.", ("queue",), AGE_BUCKETS)
DEPENDENCY_PAUSED = _m("worker_paused", Kind.GAUGE,
                       "1 while the worker waits for a dependency to answer, else 0.")
ORDER_SETTLE = _m("order_settle_seconds", Kind.HISTOGRAM,
                  "Time from an order's creation (PENDING) to its final status, by status.",
                  ("status",), SETTLE_BUCKETS)

METRICS: MappingProxyType[str, Metric] = MappingProxyType({m.name: m for m in (
    HTTP_REQUESTS, HTTP_DURATION, HTTP_IN_FLIGHT, DB_POOL_IN_USE, DB_POOL_SIZE, DB_POOL_WAIT,
    OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OUTBOX_PUBLISHED, OUTBOX_FAILED, OUTBOX_PARKED,
    MESSAGES_RECEIVED, RECEIVES, MESSAGES_HANDLED, HANDLER_DURATION, VISIBILITY_EXTENSIONS,
    MESSAGE_AGE, DEPENDENCY_PAUSED, ORDER_SETTLE)})
"""Every metric, by name."""

API_METRICS = (HTTP_REQUESTS, HTTP_DURATION, HTTP_IN_FLIGHT)
POOL_METRICS = (DB_POOL_IN_USE, DB_POOL_SIZE, DB_POOL_WAIT)
RELAY_METRICS = (OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OUTBOX_PUBLISHED, OUTBOX_FAILED, OUTBOX_PARKED)
WORKER_METRICS = (MESSAGES_RECEIVED, RECEIVES, MESSAGES_HANDLED, HANDLER_DURATION,
                  VISIBILITY_EXTENSIONS, MESSAGE_AGE, DEPENDENCY_PAUSED, ORDER_SETTLE)


def emitted_by(proc: processes.Process) -> tuple[Metric, ...]:
    """The metrics ``proc`` exposes: a process shows only what it measures, so an API never
    reports an outbox backlog of 0 it knows nothing about."""
    emitted: tuple[Metric, ...] = POOL_METRICS if proc.endpoints else ()
    if proc.kind is processes.Kind.API:
        emitted += API_METRICS
    if proc.consumes:
        emitted += WORKER_METRICS
    if proc is processes.RELAY:
        emitted += RELAY_METRICS
    return emitted

METRICS_PATH = "/metrics"
"""Where each process answers Prometheus: on an API's port, on a daemon's health port."""
