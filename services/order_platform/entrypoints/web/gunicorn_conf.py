"""gunicorn settings for both APIs, loaded by ``order-platform <api>`` (see ``launch.py``):

    gunicorn -c python:order_platform.entrypoints.web.gunicorn_conf --bind 0.0.0.0:3000 \
        'order_platform.entrypoints.write_api.app:create_app()'

The port and the grace period are the process catalogue's; the other knobs read an
environment variable so a Deployment can tune them without a new image.
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from order_platform.config import ConfigError, load_settings
from order_platform.entrypoints.web import draining, unfinished_requests
from order_platform.launch import PROCESS_ENV
from order_platform.processes import WRITE_API, process

_api = process(os.environ.get(PROCESS_ENV, WRITE_API.role))

# The launcher always passes --bind; this is for a gunicorn started by hand.
bind = [f"0.0.0.0:{_api.port}"]

# Threads, not processes, carry concurrency: requests mostly wait on PostgreSQL, and each
# worker's pool (DB_POOL_MAX, default 8) covers its threads with room to spare. gthread and not
# sync workers: the NLB passes TCP through without buffering, so a slow client would hold a
# sync worker for its whole upload or download, where a gthread worker parks the idle
# connection and keeps serving (gunicorn's docs want a buffering proxy in front of sync
# workers). Measured with make bench-compare, sync workers gave no more throughput for more CPU
# per request and a worse tail; 4 x 2 cost more memory for no gain beyond the noise; gevent
# doubled the p99 and would change how every lock, thread and timer here behaves
# (docs/performance.md).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

# A request that takes 30 s is stuck (statements are short); the worker is replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# The catalogue's shutdown grace, shorter than the pod's terminationGracePeriodSeconds, so
# in-flight requests finish on SIGTERM before the kubelet escalates to SIGKILL.
graceful_timeout = _api.shutdown_grace_seconds
# Idle keep-alive connections are closed after this. It stays under the NLB's 350 s TCP
# idle timeout, so the pod closes them cleanly before the balancer silently drops the flow.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
# Recycle workers now and then, as a guard against a leak in a dependency (jittered so they
# do not all restart at once). Rarely: a new worker costs about 0.6 s of CPU to boot plus a
# cold start, and a worker's RSS stays flat after warm-up (74 MiB over 90,000 orders).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "500000"))
max_requests_jitter = max_requests // 10

# Heartbeat files on a tmpfs: the root filesystem is read-only in the cloud, and a disk-backed
# /tmp can stall the heartbeat long enough to get a healthy worker killed.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

# No control socket (gunicorn >= 25.1 opens one by default, at $XDG_RUNTIME_DIR or
# ~/.gunicorn/gunicorn.ctl): nothing here uses gunicornc; in the cloud the root filesystem is
# read-only, and on one machine both APIs (and every test's gunicorn) would share that one path,
# each master unlinking the others' socket as it starts.
control_socket_disable = True

# Headers and request lines: gunicorn's defaults; bodies are capped at 64 KiB by Flask.
limit_request_line = 8190
limit_request_fields = 100

# Access logs: the app writes one JSON line per request itself (logger
# order_platform.access) because only it knows the request id and the order id;
# gunicorn's own access line would duplicate it without them, at a cost on every request.
accesslog = None
logger_class = "order_platform.entrypoints.web.gunicorn_logging.NoAccessLog"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "order_platform.logs.JsonLines"},
    },
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "json",
                   "stream": "ext://sys.stderr"},
    },
    # gunicorn merges this over its defaults; its root logger would name a missing handler.
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["stderr"],
                           "propagate": False},
    },
}


# --- Prometheus across worker processes ----------------------------------------------------
# A scrape reaches one worker, so every worker writes its values to memory-mapped files in a
# directory of the master's, and /metrics sums them (adapters/metrics.py). The variable must be
# set before a worker imports prometheus_client: in the master, as it starts (``on_starting``),
# not when this file is imported. It outlives a HUP, so counters survive a reload of the
# workers; a new directory per master, so a restarted container never adds its previous run's
# counts; and directories of masters that died without cleaning up are removed.
_MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_METRICS_DIR = re.compile(r"order-platform-metrics-(\d+)-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _metrics_dir() -> str:
    base = Path(worker_tmp_dir or tempfile.gettempdir())
    for old in base.glob("order-platform-metrics-*"):
        match = _METRICS_DIR.match(old.name)
        if match and not _alive(int(match.group(1))):
            shutil.rmtree(old, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"order-platform-metrics-{os.getpid()}-", dir=base)


def post_worker_init(worker: Any) -> None:
    """The worker has loaded the app: what it holds now (the libraries, the app, its schemas,
    about 110,000 objects) stays for the worker's life, so it goes out of the garbage
    collector's sight (``gc.freeze``). Otherwise every full collection walks all of it: one
    request in a few thousand stopped for about 60 ms, and with it the worker's other threads,
    which wait for the GIL (2 ms once frozen; docs/performance.md)."""
    gc.freeze()


def pre_request(worker: Any, req: Any) -> None:
    """A request starts: into the worker's ledger of unfinished requests; and while the pod's
    preStop drains the API, its connection closes after the response."""
    unfinished_requests.began(req.method, req.path)
    draining.close_when_draining(req)


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    """The request ended, answered or not: out of the ledger."""
    unfinished_requests.ended()


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended: what it never answered counts as 5xx (504 after gunicorn's timeout,
    502 after a crash); its gauges leave the live sums; its counters stay counted."""
    from prometheus_client import multiprocess

    unfinished_requests.count_unfinished(worker.pid, timed_out=worker.aborted)
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    """Remove the metrics directory, if this master made it (not one set from outside)."""
    path = os.environ.get(_MULTIPROCESS_ENV, "")
    made = _METRICS_DIR.match(Path(path).name)
    if made and int(made.group(1)) == os.getpid():
        shutil.rmtree(path, ignore_errors=True)


def on_starting(server: Any) -> None:
    """Refuse to start, naming the setting, when the config contract is not met.

    Checked once in the master so a bad setting stops the process with one clear
    message instead of every worker failing to boot in turn. Then the metrics directory the
    workers will share, and no drain left marked by a container this one replaces.
    """
    try:
        load_settings()
    except ConfigError as exc:
        server.log.error("order-platform: %s", exc)
        sys.exit(2)
    if not os.environ.get(_MULTIPROCESS_ENV):
        os.environ[_MULTIPROCESS_ENV] = _metrics_dir()
    draining.clear()
