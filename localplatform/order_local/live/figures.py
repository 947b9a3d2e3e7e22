"""What the live view shows, computed from two snapshots of the platform: rates and quantiles
over the window between them, gauges and queue depths as of the newer one. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from order_local.live.metrics import Samples, bucket_increase, increase, quantile, series, total
from order_platform import telemetry, topology
from order_platform.processes import DEPLOYED, WRITE_API, Kind

APIS = tuple(p.role for p in DEPLOYED if p.kind is Kind.API)
EMULATOR = "aws"
"""The name the AWS emulator has among the listeners (order_local.ports)."""


@dataclass(frozen=True)
class Depth:
    """A queue's messages: waiting, being handled, and dead-lettered."""

    visible: int
    in_flight: int
    dlq: int


@dataclass(frozen=True)
class Snapshot:
    """The platform at one moment, by role: whether each process answered, and its metrics
    (None when it did not answer or has none); each queue's depth by topology key (None for a
    queue the emulator lacks), or None when the emulator did not answer."""

    at: float
    up: Mapping[str, bool]
    metrics: Mapping[str, Samples | None]
    queues: Mapping[str, Depth | None] | None


@dataclass(frozen=True)
class ApiRow:
    """Requests of one API, over all its routes (``route`` ``*``) or one method and route."""

    api: str
    route: str
    per_s: float
    errors_per_s: float
    """Answers 5xx."""
    p50_s: float | None
    p99_s: float | None


@dataclass(frozen=True)
class QueueRow:
    """A queue: its depth, and how fast and how late the worker handles it."""

    queue: str
    depth: Depth | None
    """None when the emulator is down or lacks the queue (``Frame.up`` tells which)."""
    handled_per_s: float | None
    lag_p99_s: float | None


@dataclass(frozen=True)
class Frame:
    """One refresh of the view."""

    seconds: float
    up: Mapping[str, bool]
    created_per_s: float | None
    settled_per_s: Mapping[str, float] | None
    """By final status; None when no process that reports it answered."""
    settle_p99_s: float | None
    backlog: float | None
    oldest_age_s: float | None
    parked: float | None
    published_per_s: float | None
    queues: tuple[QueueRow, ...]
    apis: tuple[ApiRow, ...]


def _pairs(new: Snapshot, old: Snapshot, metric: telemetry.Metric,
           roles: tuple[str, ...] | None = None) -> list[tuple[Samples, Samples]]:
    """(newer, older) samples of each process that reports ``metric`` (the catalogue says
    which: no one else's zero is mixed in) and answered both times; none, when none did."""
    roles = roles or tuple(p.role for p in DEPLOYED if metric in telemetry.emitted_by(p))
    pairs = [(new.metrics.get(r), old.metrics.get(r)) for r in roles]
    return [(newer, older) for newer, older in pairs if newer is not None and older is not None]


def _rate(pairs, seconds: float, name: str, **match: str) -> float | None:
    if not pairs:
        return None
    return sum(increase(n, o, name, **match) for n, o in pairs) / seconds


def _quantile(q: float, pairs, name: str, **match: str) -> float | None:
    buckets: dict[float, float] = {}
    for n, o in pairs:
        for le, grown in bucket_increase(n, o, name, **match).items():
            buckets[le] = buckets.get(le, 0.0) + grown
    return quantile(q, buckets)


def _gauge(pairs, name: str, combine=sum) -> float | None:
    values = [v for n, _ in pairs if (v := total(n, name)) is not None]
    return combine(values) if values else None


def api_rows(api: str, new: Samples, old: Samples, seconds: float) -> list[ApiRow]:
    """The API over all routes, then each method and route that had requests in the window."""
    pair, requests = [(new, old)], telemetry.HTTP_REQUESTS.name
    duration = telemetry.HTTP_DURATION.name
    errors = sorted({dict(labels)["status"] for labels, _ in series(new, requests)
                     if dict(labels)["status"].startswith("5")})

    def row(shown: str, **match: str) -> ApiRow:
        failed = sum(increase(new, old, requests, status=s, **match) for s in errors)
        return ApiRow(api, shown, _rate(pair, seconds, requests, **match) or 0.0,
                      failed / seconds, _quantile(0.50, pair, duration, **match),
                      _quantile(0.99, pair, duration, **match))

    routes = sorted({(dict(labels)["method"], dict(labels)["route"])
                     for labels, _ in series(new, requests)})
    by_route = [row(f"{method} {route}", method=method, route=route) for method, route in routes]
    return [row("*"), *(r for r in by_route if r.per_s > 0)]


def frame(new: Snapshot, old: Snapshot) -> Frame:
    """What changed from ``old`` to ``new``, per second, and where things stand now."""
    seconds = max(new.at - old.at, 1e-6)

    def pairs(metric: telemetry.Metric, *roles: str):
        return _pairs(new, old, metric, roles)

    settle, settlers = telemetry.ORDER_SETTLE.name, pairs(telemetry.ORDER_SETTLE)
    statuses = sorted({dict(labels)["status"] for n, _ in settlers
                       for labels, _ in series(n, f"{settle}_count")})
    queues = tuple(QueueRow(
        q.key, new.queues.get(q.key) if new.queues is not None else None,
        _rate(pairs(telemetry.MESSAGES_HANDLED), seconds, telemetry.MESSAGES_HANDLED.name,
              queue=q.key),
        _quantile(0.99, pairs(telemetry.MESSAGE_AGE), telemetry.MESSAGE_AGE.name, queue=q.key),
    ) for q in topology.QUEUES)
    return Frame(
        seconds=seconds,
        up={**new.up, EMULATOR: new.queues is not None},
        # Only POST /orders answers 202 on the write API: an order accepted (or replayed).
        created_per_s=_rate(pairs(telemetry.HTTP_REQUESTS, WRITE_API.role), seconds,
                            telemetry.HTTP_REQUESTS.name, method="POST", status="202"),
        settled_per_s={s: _rate(settlers, seconds, f"{settle}_count", status=s) or 0.0
                       for s in statuses} if settlers else None,
        settle_p99_s=_quantile(0.99, settlers, settle),
        backlog=_gauge(pairs(telemetry.OUTBOX_BACKLOG), telemetry.OUTBOX_BACKLOG.name),
        oldest_age_s=_gauge(pairs(telemetry.OUTBOX_OLDEST_AGE),
                            telemetry.OUTBOX_OLDEST_AGE.name, max),
        parked=_gauge(pairs(telemetry.OUTBOX_PARKED), telemetry.OUTBOX_PARKED.name),
        published_per_s=_rate(pairs(telemetry.OUTBOX_PUBLISHED), seconds,
                              telemetry.OUTBOX_PUBLISHED.name),
        queues=queues,
        apis=tuple(row for api in APIS for n, o in pairs(telemetry.HTTP_REQUESTS, api)
                   for row in api_rows(api, n, o, seconds)),
    )
