"""Requests that a gunicorn worker took with it when it died, counted as 5xx by the master.

The app counts a request as its code unwinds (``access.RequestLog``). A worker that gunicorn
kills after its timeout (SIGABRT, then SIGKILL: a hung worker runs no handler), or one that
crashes or is OOM-killed, unwinds nothing: its requests would be in neither the 5xx count nor
the latency, and the load balancer in front (TCP) reports no 5xx of its own. So each worker
keeps a ledger of what it is answering, one slot per thread in a small memory-mapped file next
to the metrics files: the request's method and start time as it begins (gunicorn's
``pre_request``), cleared as it ends (``post_request``). When the master reaps a worker
(``child_exit``), every slot still set is a request nobody answered: it is counted as a 504
if gunicorn killed the worker for its timeout, else a 502 (what an HTTP proxy would have
answered), under the route ``unfinished``, with the time it had run. The master writes these
through prometheus_client's multiprocess files like any worker, so ``/metrics`` sums them in.
"""

from __future__ import annotations

import functools
import mmap
import os
import struct
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from order_platform import telemetry

if TYPE_CHECKING:
    from order_platform.adapters.metrics import Instruments

ROUTE = "unfinished"
"""The route label of a request its worker died with (its route was never known)."""
TIMED_OUT, CRASHED = 504, 502
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER")
SLOTS = 64
"""Threads a worker can track; a worker with more (GUNICORN_THREADS) leaves the rest untracked."""
_SLOT = struct.Struct("=dB7x")
_METHOD_CODES = {method: code for code, method in enumerate(METHODS)}
_OTHER = _METHOD_CODES["OTHER"]
_DIRECTORY_ENV = "PROMETHEUS_MULTIPROC_DIR"


def ledger_path(directory: str | os.PathLike[str], pid: int) -> Path:
    """Where worker ``pid`` keeps its ledger (not a ``*.db``: prometheus_client reads those)."""
    return Path(directory) / f"unfinished-{pid}.ledger"


class Ledger:
    """One worker's requests in progress, a slot per thread."""

    def __init__(self, path: Path) -> None:
        with open(path, "w+b") as handle:
            handle.truncate(SLOTS * _SLOT.size)
            self._map = mmap.mmap(handle.fileno(), SLOTS * _SLOT.size)
        self._next = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def _offset(self) -> int | None:
        try:
            known: int | None = self._local.offset
        except AttributeError:
            pass
        else:
            return known
        with self._lock:
            offset = self._local.offset = self._next * _SLOT.size if self._next < SLOTS else None
            self._next += 1
        return offset

    def begin(self, method: str) -> None:
        """This thread starts answering a request."""
        offset = self._offset()
        if offset is not None:
            _SLOT.pack_into(self._map, offset, time.time(), _METHOD_CODES.get(method, _OTHER))

    def end(self) -> None:
        """This thread's request ended, however it ended."""
        offset = self._offset()
        if offset is not None:
            _SLOT.pack_into(self._map, offset, 0.0, 0)


@functools.cache
def _own_ledger() -> Ledger | None:
    """This worker's ledger, made on its first request; None without a metrics directory.
    Only workers answer requests, each forked from a master that never made one, so each
    starts with an empty cache and makes its own."""
    directory = os.environ.get(_DIRECTORY_ENV)
    return Ledger(ledger_path(directory, os.getpid())) if directory else None


def began(method: str, path: str) -> None:
    """gunicorn's ``pre_request``: a scrape is not a request, everything else is."""
    ledger = _own_ledger()
    if ledger is not None and path != telemetry.METRICS_PATH:
        ledger.begin(method)


def ended() -> None:
    """gunicorn's ``post_request``."""
    ledger = _own_ledger()
    if ledger is not None:
        ledger.end()


def left_unfinished(directory: str | os.PathLike[str], pid: int) -> list[tuple[str, float]]:
    """The requests dead worker ``pid`` was answering (method, start time); its ledger goes."""
    path = ledger_path(directory, pid)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    path.unlink()
    slots = (_SLOT.unpack_from(data, offset) for offset in range(0, len(data), _SLOT.size))
    return [(METHODS[code], started) for started, code in slots if started]


def count_unfinished(pid: int, *, timed_out: bool) -> int:
    """In the master, as worker ``pid`` is reaped: count what it left unanswered as 5xx."""
    directory = os.environ.get(_DIRECTORY_ENV)
    lost = left_unfinished(directory, pid) if directory else []
    if lost:
        instruments = _master_instruments()
        status = str(TIMED_OUT if timed_out else CRASHED)
        now = time.time()
        for method, started in lost:
            instruments.counter(telemetry.HTTP_REQUESTS).labels(ROUTE, method, status).inc()
            instruments.histogram(telemetry.HTTP_DURATION).labels(ROUTE, method).observe(
                now - started)
    return len(lost)


_instruments: Instruments | None = None


def _master_instruments() -> Instruments:
    """The master's own request instruments, made once: their values go to the master's files
    in the metrics directory, which ``/metrics`` sums with the workers'."""
    global _instruments  # noqa: PLW0603 (one set per master process)
    if _instruments is None:
        # Imported only now, once on_starting has set the metrics directory: prometheus_client
        # chooses its (multiprocess) value class as it is imported.
        from order_platform.adapters.metrics import Instruments

        _instruments = Instruments((telemetry.HTTP_REQUESTS, telemetry.HTTP_DURATION))
    return _instruments
