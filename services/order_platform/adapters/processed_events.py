"""Consumer deduplication on PostgreSQL: one ``processed_events`` row per (consumer, event_id)."""

from __future__ import annotations

from order_platform.adapters.session import Session
from order_platform.domain.model import OrderStatus
from order_platform.domain.stock import OrderMissing
from order_platform.service_layer.unit_of_work import ProcessedEvents

# The order is locked first and the event claimed from that lock, so the claim can only be
# written once the lock is held (the INSERT reads ``locked``), in one round trip. A second
# delivery of the same event waits on the order's lock until the first commits, and then
# meets its claim; a delivery that finds no order claims nothing. NO KEY: the weakest lock
# that excludes another writer of the row, and the one that lets new rows reference it.
# bench/bare_worker.py runs it too.
CLAIM_ORDER = """WITH locked AS (
    SELECT status FROM orders WHERE id = %s FOR NO KEY UPDATE
), claimed AS (
    INSERT INTO processed_events (consumer, event_id) SELECT %s, %s FROM locked
    ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id
)
SELECT (SELECT status FROM locked) AS status, EXISTS (SELECT FROM claimed) AS first"""


class SqlProcessedEvents(ProcessedEvents):
    """The ``processed_events`` table, in one session's transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def claim(self, consumer: str, event_id: str, order_id: str) -> OrderStatus | None:
        """See ``ProcessedEvents.claim``: the order locked and the event claimed in one
        round trip; the claim commits with the consumer's effect or not at all."""
        row = self._session.execute(CLAIM_ORDER, (order_id, consumer, event_id)).one()
        if row is None or row["status"] is None:
            raise OrderMissing(f"order {order_id} not found on the writer")
        return OrderStatus(row["status"]) if row["first"] else None
