"""Prometheus instruments made from the metric catalogue, and what ``/metrics`` answers.

Each started process owns one ``Instruments``: the catalogue's metrics that it emits
(``telemetry.emitted_by``), registered in a registry of its own, so two processes started in
one interpreter (the tests do) never share a counter.

gunicorn runs an API as several worker processes, and a scrape reaches one of them. With
``PROMETHEUS_MULTIPROC_DIR`` set (``gunicorn_conf`` sets it in the master before any worker
imports this module) every value lives in a memory-mapped file per process, and ``/metrics``
answers the sum over all of them, dead workers' counters included.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from typing import TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from order_platform import telemetry
from order_platform.telemetry import Kind, Metric

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
T = TypeVar("T")


Instrument = Counter | Gauge | Histogram


def _instrument(metric: Metric, registry: CollectorRegistry) -> Instrument:
    name, documentation, labels = metric.name, metric.help, metric.labels
    if metric.kind is Kind.COUNTER:
        return Counter(name, documentation, labels, registry=registry)
    if metric.kind is Kind.HISTOGRAM:
        return Histogram(name, documentation, labels, registry=registry, buckets=metric.buckets)
    # Every gauge of the catalogue is a quantity per process (connections, requests in
    # flight): a pod's value is the sum over its live worker processes.
    return Gauge(name, documentation, labels, registry=registry, multiprocess_mode="livesum")


class Instruments:
    """The live instruments of one process, looked up by their catalogue entry."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._by_name = {m.name: _instrument(m, self.registry) for m in metrics}

    def __getitem__(self, metric: Metric) -> Instrument:
        """The instrument for ``metric``; KeyError if this process does not emit it."""
        return self._by_name[metric.name]

    def counter(self, metric: Metric) -> Counter:
        """``self[metric]``, a counter."""
        return self._of(metric, Counter)

    def gauge(self, metric: Metric) -> Gauge:
        """``self[metric]``, a gauge."""
        return self._of(metric, Gauge)

    def histogram(self, metric: Metric) -> Histogram:
        """``self[metric]``, a histogram."""
        return self._of(metric, Histogram)

    def _of(self, metric: Metric, kind: type[T]) -> T:
        instrument = self._by_name[metric.name]
        if not isinstance(instrument, kind):
            raise TypeError(f"{metric.name} is a {metric.kind.value}, not a {kind.__name__}")
        return instrument

    def __contains__(self, metric: Metric) -> bool:
        return metric.name in self._by_name

    def exposition(self) -> tuple[bytes, str]:
        """The text ``/metrics`` answers, and its content type."""
        if os.environ.get(MULTIPROCESS_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def may_scrape(remote_addr: str | None) -> bool:
    """Whether ``remote_addr`` may read ``/metrics``: no address routable on the internet
    (loopback, private, the shared 100.64/10 that pod networks may use).

    The APIs sit behind a public load balancer that keeps the client's address; collectors
    scrape pods from inside the VPC. Nothing secret is in the metrics, but the internet has
    no business reading a shop's order rate.
    """
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    return not address.is_global


class PoolGauges:
    """A pool's ``PoolWatch``: connections lent, the pool's bound, and the wait for one."""

    def __init__(self, instruments: Instruments, endpoint: str, size: int) -> None:
        self._in_use = instruments.gauge(telemetry.DB_POOL_IN_USE).labels(endpoint)
        self._wait = instruments.histogram(telemetry.DB_POOL_WAIT).labels(endpoint)
        instruments.gauge(telemetry.DB_POOL_SIZE).labels(endpoint).set(size)

    def lent(self, waited_seconds: float, out: int) -> None:
        """See ``PoolWatch``."""
        self._in_use.set(out)
        self._wait.observe(waited_seconds)

    def returned(self, out: int) -> None:
        """See ``PoolWatch``."""
        self._in_use.set(out)
