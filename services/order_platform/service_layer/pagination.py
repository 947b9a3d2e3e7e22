"""Opaque keyset cursors: base64url JSON naming the list, the last key seen and the filters.

A cursor is opaque to clients, so its format can change; it is still validated on
the way in, because it is client input like any other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass

from order_platform.domain.catalog import sku_problem

BIGINT_MAX = 2**63 - 1
MAX_CURSOR_LENGTH = 512


class CursorError(ValueError):
    """The cursor is not one we issued for this list and these filters."""


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended, for one list and one set of filters."""

    kind: str
    """'orders' (after is an orders.seq) or 'products' (after is a SKU)."""
    after: int | str
    scope: str
    """Fingerprint of the filters the cursor was issued for."""


def scope_of(**filters: object) -> str:
    """A short fingerprint of a list's filters; a cursor is only valid for the same ones."""
    raw = json.dumps(filters, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def encode(cursor: Cursor) -> str:
    """The opaque token for ``cursor``."""
    raw = json.dumps({"k": cursor.kind, "a": cursor.after, "s": cursor.scope},
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(token: str, kind: str) -> Cursor:
    """Read a token issued by ``encode`` for the list ``kind``; raise CursorError otherwise."""
    if not token or len(token) > MAX_CURSOR_LENGTH:
        raise CursorError("cursor has an impossible length")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise CursorError("cursor is not one this API issued") from exc
    if not isinstance(body, dict) or set(body) != {"k", "a", "s"} or body["k"] != kind:
        raise CursorError("cursor is not one this API issued for this list")
    after, scope = body["a"], body["s"]
    if not isinstance(scope, str) or len(scope) != 16:
        raise CursorError("cursor is not one this API issued for this list")
    if kind == "orders":
        valid = type(after) is int and 0 < after <= BIGINT_MAX
    else:
        valid = isinstance(after, str) and sku_problem(after) is None
    if not valid:
        raise CursorError("cursor position is out of range")
    return Cursor(kind=kind, after=after, scope=scope)
