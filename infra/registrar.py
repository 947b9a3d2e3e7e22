"""Decorators that file functions in a table by token (the mocks' resource builders, invokes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

Fn = TypeVar("Fn", bound=Callable)


def registrar(table: dict[str, Fn]) -> Callable[[str], Callable[[Fn], Fn]]:
    """A decorator factory that files each decorated function in ``table`` under its token."""
    def under(token: str) -> Callable[[Fn], Fn]:
        def register(fn: Fn) -> Fn:
            table[token] = fn
            return fn
        return register
    return under
