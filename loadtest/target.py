"""Where the load goes: the write and read APIs' base URLs, and whether that is this machine.

The ports come from the process catalogue: the NLB has one listener per API on the port the
API serves on, and `make dev` listens on the same ports unless they were moved with a flag.
Nothing here touches the network, so a refusal happens before any connection, DNS included.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

from order_platform.processes import READ_API, WRITE_API

LOCAL_HOST = "127.0.0.1"
"""The local platform's address (`make dev` listens there)."""


@dataclass(frozen=True)
class Target:
    """The two APIs under load."""

    write_url: str
    read_url: str

    def remote_urls(self) -> list[str]:
        """The URLs that are not on a loopback address."""
        return [url for url in (self.write_url, self.read_url) if not is_loopback(url)]


def is_loopback(url: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1); names are never
    resolved, so an unknown name counts as remote."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _base(url: str, what: str) -> str:
    """``url`` without a trailing slash, with a scheme; ValueError when it is not http(s)."""
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} {url!r} is not an http(s) URL")
    return url.rstrip("/")


def _with_port(api_url: str, port: int) -> str:
    """The API_URL host on one listener's port."""
    parts = urlsplit(_base(api_url, "API_URL"))
    if parts.port is not None or parts.path not in ("", "/"):
        raise ValueError(
            f"API_URL {api_url!r} names a port or a path; give the load balancer's host alone "
            f"(the listeners are the catalogue's ports, {WRITE_API.port} and {READ_API.port}), "
            "or --write-url and --read-url")
    hostname = parts.hostname or ""
    host = f"[{hostname}]" if ":" in hostname else hostname
    return f"{parts.scheme}://{host}:{port}"


def resolve(*, api_url: str | None = None, write_url: str | None = None,
            read_url: str | None = None, write_port: int | None = None,
            read_port: int | None = None) -> Target:
    """The target: explicit URLs win; otherwise API_URL's host (or this machine) on the
    catalogue's ports (every API has one: tests/unit/test_process_catalogue.py), or on the
    ports given."""
    host = api_url or LOCAL_HOST
    return Target(
        write_url=_base(write_url, "--write-url") if write_url
        else _with_port(host, write_port or cast(int, WRITE_API.port)),
        read_url=_base(read_url, "--read-url") if read_url
        else _with_port(host, read_port or cast(int, READ_API.port)),
    )


def refusal(target: Target, allow_remote: bool) -> str | None:
    """Why the load must not start, in one line; None when it may."""
    remote = target.remote_urls()
    if not remote or allow_remote:
        return None
    return (f"refusing to load {', '.join(remote)}: not a loopback address, so it may be "
            "a shared or production deployment; pass --allow-remote if you mean it")
