"""Idempotency keys for order creation, kept in the same transaction as the order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

# First half of the two-int advisory lock key: a namespace so our locks cannot
# collide with other advisory locks (one-bigint keys live in a separate space anyway).
_LOCK_NAMESPACE = 0x1DE0


@dataclass(frozen=True)
class RememberedRequest:
    """What an Idempotency-Key already stands for."""

    request_hash: str
    order_id: uuid.UUID


def lock(cur, key: str) -> None:
    """Serialise transactions that carry the same key until the holder commits.

    Two requests racing with one key queue here; the second then finds the first's
    row instead of creating a second order. A hash collision only serialises two
    unrelated keys, which is harmless.
    """
    cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_NAMESPACE, key))


def recall(cur, key: str) -> RememberedRequest | None:
    """The request a key was first used with, if any."""
    cur.execute("SELECT request_hash, order_id FROM idempotency_keys WHERE key = %s", (key,))
    row = cur.fetchone()
    if row is None:
        return None
    return RememberedRequest(request_hash=row["request_hash"], order_id=row["order_id"])


def remember(cur, key: str, request_hash: str, order_id: uuid.UUID) -> None:
    """Record that ``key`` created ``order_id``; the primary key backs up the lock."""
    cur.execute(
        "INSERT INTO idempotency_keys (key, request_hash, order_id) VALUES (%s, %s, %s)",
        (key, request_hash, order_id),
    )
