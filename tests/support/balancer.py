"""A loopback TCP balancer that honours readiness, as kube-proxy and the NLB do.

Each client connection goes, whole, to one backend that answered its last ``/readyz`` poll
with 200 (round robin); bytes are copied both ways until either side closes. Nothing is
retried: a backend that refuses a connection fails that client connection, as it would in
the cluster. A backend that stops being ready gets no new connection after the next poll;
connections it already has stay with it.
"""

from __future__ import annotations

import itertools
import socket
import threading
from dataclasses import dataclass, field

import requests

from order_local.chaos.proxy import pipe

POLL_SECONDS = 0.2


@dataclass
class Backend:
    """One upstream API and what the balancer saw of it."""

    port: int
    ready: bool = False
    connections: int = 0
    went_unready: threading.Event = field(default_factory=threading.Event)


class Balancer:
    """Listens on 127.0.0.1:``port``; ``start()`` then ``stop()``."""

    def __init__(self, backend_ports: list[int]) -> None:
        self.backends = [Backend(port) for port in backend_ports]
        self.refused = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._poll, daemon=True),
                         threading.Thread(target=self._accept, daemon=True)]

    def start(self) -> Balancer:
        """Poll readiness until every backend answered once, then accept."""
        self._check_readiness()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and polling (open connections end with their peers)."""
        self._stop.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(5)

    def _check_readiness(self) -> None:
        for backend in self.backends:
            try:
                ok = requests.get(f"http://127.0.0.1:{backend.port}/readyz",
                                  timeout=1).status_code == 200
            except requests.RequestException:
                ok = False
            if backend.ready and not ok:
                backend.went_unready.set()
            backend.ready = ok

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self._check_readiness()

    def _pick(self) -> Backend | None:
        ready = [b for b in self.backends if b.ready]
        if not ready:
            return None
        with self._lock:
            backend = ready[next(self._turn) % len(ready)]
            backend.connections += 1
        return backend

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        backend = self._pick()
        try:
            upstream = socket.create_connection(("127.0.0.1", backend.port), timeout=5) \
                if backend else None
        except OSError:
            upstream = None
        if upstream is None:
            with self._lock:
                self.refused += 1
            client.close()
            return
        upstream.settimeout(None)
        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)
