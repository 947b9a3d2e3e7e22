"""Consumer deduplication: one ``processed_events`` row per (consumer, event_id)."""

from __future__ import annotations


def record_first_delivery(cur, consumer: str, event_id: str) -> bool:
    """Claim ``event_id`` for ``consumer`` inside the caller's transaction.

    True on the first delivery: the caller applies its effect in the same transaction,
    so the claim and the effect commit together or not at all. False when the event
    was already processed (or a concurrent delivery committed first): acknowledge it
    and do nothing. A concurrent insert of the same key waits on the primary key until
    the other transaction ends, so two workers can never both see True.
    """
    cur.execute(
        "INSERT INTO processed_events (consumer, event_id) VALUES (%s, %s) "
        "ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id",
        (consumer, event_id),
    )
    return cur.fetchone() is not None
