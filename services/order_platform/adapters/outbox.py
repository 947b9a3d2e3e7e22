"""The transactional outbox on PostgreSQL: events written in the unit of work that causes them,
and the relay's claims on them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from order_platform.adapters import tracing
from order_platform.adapters.session import Session
from order_platform.service_layer.unit_of_work import Backlog, Outbox, OutboxRow, Row
from order_platform.topology import ENVELOPE_FIELDS, TRACE_FIELD, EventType

# The statements, named: bench/bare_app.py and bench/bare_worker.py run INSERT_EVENT too.
INSERT_EVENT = ("INSERT INTO outbox (event_id, event_type, source, detail) "
                "VALUES (%s, %s, %s, %s)")
# FOR NO KEY UPDATE SKIP LOCKED: several relays share the work, never sending a row twice at
# the same time, and none waits for the rows another holds.
CLAIM = ("SELECT id, event_id::text AS event_id, event_type, source, detail, attempts "
         "FROM outbox WHERE published_at IS NULL AND parked_at IS NULL "
         "AND NOT (id = ANY(%s::bigint[])) ORDER BY id LIMIT %s FOR NO KEY UPDATE SKIP LOCKED")
PUBLISHED = ("UPDATE outbox SET published_at = now(), attempts = attempts + 1, "
             "last_error = NULL WHERE id = ANY(%s::bigint[])")
REJECTED = "UPDATE outbox SET attempts = %s, last_error = %s WHERE id = %s"
PARKED = "UPDATE outbox SET attempts = %s, last_error = %s, parked_at = now() WHERE id = %s"
# On the partial index of unpublished rows, as every statement here but the insert.
BACKLOG = ("SELECT count(*) FILTER (WHERE parked_at IS NULL) AS waiting, "
           "count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked, "
           "coalesce(extract(epoch FROM now() - min(created_at) FILTER "
           "(WHERE parked_at IS NULL)), 0)::float8 AS oldest "
           "FROM outbox WHERE published_at IS NULL")
LIST_PARKED = ("SELECT id, event_id::text AS event_id, event_type, source, attempts, "
               "last_error, created_at, parked_at, octet_length(detail::text) AS detail_bytes "
               "FROM outbox WHERE published_at IS NULL AND parked_at IS NOT NULL "
               "ORDER BY id LIMIT %s")
UNPARK = ("UPDATE outbox SET parked_at = NULL, attempts = 0 "
          "WHERE published_at IS NULL AND parked_at IS NOT NULL "
          "AND (%s::bigint[] IS NULL OR id = ANY(%s::bigint[])) RETURNING id")


class SqlOutbox(Outbox):
    """The ``outbox`` table, in one session's transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, event_type: EventType, detail: dict[str, Any]) -> str:
        """The row, with the event id, the time and the current trace, goes with the unit of
        work's next trip; its event id."""
        missing = [f for f in event_type.detail_fields if f not in detail]
        if missing:
            raise ValueError(f"{event_type.name} detail lacks {missing}")
        event_id = str(uuid.uuid4())
        body = {**detail, ENVELOPE_FIELDS[0]: event_id,
                ENVELOPE_FIELDS[1]: datetime.now(UTC).isoformat()}
        traceparent = tracing.current_traceparent()
        if traceparent is not None:
            body[TRACE_FIELD] = traceparent  # the order's trace goes on with the event
        # The JSON text as a plain parameter: a quoted literal, as ``Json`` would send it,
        # that PostgreSQL reads as the jsonb column's value, without the adapter's Python.
        self._session.execute(INSERT_EVENT, (event_id, event_type.name, event_type.source,
                                             _dumps(body)))
        return event_id

    def claim(self, limit: int, skipping: Collection[int] = ()) -> list[OutboxRow]:
        """See ``Outbox.claim``."""
        rows = self._session.execute(CLAIM, (list(skipping), limit)).all()
        return [OutboxRow(**row) for row in rows]

    def mark_published(self, ids: Sequence[int]) -> None:
        """See ``Outbox.mark_published``."""
        self._session.execute(PUBLISHED, (list(ids),))

    def mark_rejected(self, row_id: int, attempts: int, error: str, *, park: bool) -> None:
        """See ``Outbox.mark_rejected``."""
        self._session.execute(PARKED if park else REJECTED, (attempts, error, row_id))

    def backlog(self) -> Backlog:
        """See ``Outbox.backlog``."""
        row = self._session.execute(BACKLOG).one()
        assert row is not None  # an aggregate always answers one row
        return Backlog(row["waiting"], max(0.0, row["oldest"]), row["parked"])

    def parked(self, limit: int) -> list[Row]:
        """See ``Outbox.parked``."""
        return self._session.execute(LIST_PARKED, (limit,)).all()

    def unpark(self, ids: Sequence[int] | None) -> list[int]:
        """See ``Outbox.unpark``."""
        chosen = None if ids is None else list(ids)
        return sorted(row["id"] for row in self._session.execute(UNPARK, (chosen, chosen)).all())


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value, default=str).decode()  # every order writes one
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, default=str, separators=(",", ":"))
