"""An API that is being stopped drains before it stops: the pod's preStop starts the drain.

Kubernetes takes a terminating pod out of its Service's endpoints and runs its preStop hook at
the same moment, and only sends SIGTERM once the hook returns. The change takes seconds to
reach kube-proxy on every node, and clients keep the connections they hold; gunicorn closes its
listener as soon as SIGTERM arrives. So the hook, ``python -m
order_platform.entrypoints.web.draining <seconds>``, marks the pod draining and waits:

- ``/readyz`` answers 503, so nothing that still asks sends new connections here;
- every response closes its connection, so clients reconnect, to another pod;
- every request is still served.

Then SIGTERM: gunicorn stops accepting and finishes what is in flight (``graceful_timeout``).
The mark is a file in the process's temp dir: the pod's own ``/tmp`` in the cluster (an
emptyDir, which outlives a container restart, so the master clears it when it starts).
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MARKER_NAME = "order-platform-draining"


def marker() -> Path:
    """The file whose presence means "draining"."""
    return Path(_marker_in(tempfile.gettempdir()))


@functools.cache
def _marker_in(directory: str) -> str:
    # Joined once per temp dir, not per request: a Path costs a request more than the stat.
    return os.path.join(directory, MARKER_NAME)


def draining() -> bool:
    """True once the drain has started (asked by every request: one stat)."""
    return os.path.exists(_marker_in(tempfile.gettempdir()))


def start() -> None:
    """Mark this API draining."""
    marker().touch()


def clear() -> None:
    """Serve normally again: a container restarted in the same pod starts undrained."""
    marker().unlink(missing_ok=True)


def close_when_draining(req: Any) -> None:
    """gunicorn ``pre_request``: while draining, answer with ``Connection: close``.

    The application cannot ask for it (gunicorn drops hop-by-hop headers from a response), so
    this calls the request's ``force_close``, which gunicorn has but does not document: the one
    gunicorn internal the APIs use. ``tests/unit/test_drain_hook.py`` fails by name on a
    gunicorn that drops it or stops honouring it; ``tests/e2e/test_api_drain.py`` checks the
    whole drain.
    """
    if draining():
        req.force_close()


def main(argv: Sequence[str] | None = None) -> int:
    """The preStop hook: start the drain, then keep serving for ``seconds``."""
    parser = argparse.ArgumentParser(prog="python -m order_platform.entrypoints.web.draining")
    parser.add_argument("seconds", type=float, help="how long to serve while draining")
    seconds = parser.parse_args(argv).seconds
    start()
    time.sleep(seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
