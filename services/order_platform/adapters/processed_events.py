"""Consumer deduplication: one ``processed_events`` row per (consumer, event_id)."""

from __future__ import annotations

# The order is locked first and the event claimed from that lock, so the claim can only be
# written once the lock is held (the INSERT reads ``locked``), in one round trip. A second
# delivery of the same event waits on the order's lock until the first commits, and then
# meets its claim; a delivery that finds no order claims nothing. NO KEY: the weakest lock
# that excludes another writer of the row, and the one that lets new rows reference it.
_CLAIM_ORDER = """WITH locked AS (
    SELECT status FROM orders WHERE id = %s FOR NO KEY UPDATE
), claimed AS (
    INSERT INTO processed_events (consumer, event_id) SELECT %s, %s FROM locked
    ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id
)
SELECT (SELECT status FROM locked) AS status, EXISTS (SELECT FROM claimed) AS first"""


def claim_order(cur, consumer: str, event_id: str, order_id: str) -> tuple[str | None, bool]:
    """Lock ``order_id`` and claim ``event_id`` for ``consumer`` inside the caller's
    transaction: (the order's status or None if there is no such order, whether this is
    the event's first delivery).

    On the first delivery the caller applies its effect in the same transaction, so the
    claim and the effect commit together or not at all. Otherwise the event was already
    processed: acknowledge it and do nothing. Two deliveries can never both see a first.
    """
    cur.execute(_CLAIM_ORDER, (order_id, consumer, event_id))
    row = cur.fetchone()
    return row["status"], row["first"]
