"""Every port the local platform listens on: the backing services', and one per process of
the catalogue (an API's port, a daemon's health port), each movable with a flag."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import cast

from order_local.postgres import READER_HOST, WRITER_HOST
from order_platform.processes import DEPLOYED, Kind


def free_port() -> int:
    """A TCP port that nothing listens on right now on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Listener:
    """Something the local platform listens on."""

    name: str
    """``postgres``, ``aws``, ``cache``, or a process role."""
    what: str
    default: int
    hosts: tuple[str, ...] = (WRITER_HOST,)

    @property
    def flag(self) -> str:
        """The ``order-local up`` option that moves it."""
        return f"--{self.name}-port"


LISTENERS: tuple[Listener, ...] = (
    Listener("postgres", "PostgreSQL (the writer on 127.0.0.1, the reader on 127.0.0.2)", 54329,
             (WRITER_HOST, READER_HOST)),
    Listener("aws", "the AWS emulator", 4566),
    Listener("cache", "the product cache (redis-server)", 6379),
    *(Listener(p.role, f"the {p.role}" if p.kind is Kind.API else f"the {p.role}'s health probes",
               cast(int, p.probe_port))  # every deployed process has one
      for p in DEPLOYED),
)


@dataclass(frozen=True)
class Ports:
    """A port for every listener, by name."""

    by_name: Mapping[str, int]

    @classmethod
    def defaults(cls) -> Ports:
        """The documented ports (3000, 3001, 8081, ...)."""
        return cls(MappingProxyType({listener.name: listener.default for listener in LISTENERS}))

    @classmethod
    def free(cls) -> Ports:
        """A port for every listener that is free on 127.0.0.1 right now (tests, benchmarks)."""
        socks = []
        try:
            for _ in LISTENERS:
                sock = socket.socket()
                sock.bind(("127.0.0.1", 0))
                socks.append(sock)
            return cls(MappingProxyType({listener.name: sock.getsockname()[1]
                                         for listener, sock in zip(LISTENERS, socks,
                                                                   strict=True)}))
        finally:
            for sock in socks:
                sock.close()

    def __getitem__(self, name: str) -> int:
        return self.by_name[name]

    @property
    def postgres(self) -> int:
        """PostgreSQL's port (the writer and the reader share it, on two addresses)."""
        return self.by_name["postgres"]

    @property
    def aws(self) -> int:
        """The AWS emulator's port."""
        return self.by_name["aws"]

    @property
    def cache(self) -> int:
        """The product cache's port."""
        return self.by_name["cache"]

    def url(self, role: str) -> str:
        """``http://127.0.0.1:<port>`` of a process."""
        return f"http://127.0.0.1:{self[role]}"

    def args(self) -> Iterator[str]:
        """The ``order-local up`` flags that select these ports."""
        for listener in LISTENERS:
            yield from (listener.flag, str(self[listener.name]))
