"""Writing events to the transactional outbox, inside the caller's transaction."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from order_platform.adapters import tracing
from order_platform.topology import ENVELOPE_FIELDS, TRACE_FIELD, EventType

INSERT_EVENT = ("INSERT INTO outbox (event_id, event_type, source, detail) "
                "VALUES (%s, %s, %s, %s)")


def add_event(cur, event_type: EventType, detail: dict[str, Any]) -> str:
    """Stage ``event_type`` with ``detail`` in the outbox; return its event_id.

    Runs on the caller's cursor, so the event commits or rolls back with the change
    it announces. Never commits.
    """
    missing = [f for f in event_type.detail_fields if f not in detail]
    if missing:
        raise ValueError(f"{event_type.name} detail lacks {missing}")
    event_id = str(uuid.uuid4())
    body = {
        **detail,
        ENVELOPE_FIELDS[0]: event_id,
        ENVELOPE_FIELDS[1]: datetime.now(UTC).isoformat(),
    }
    traceparent = tracing.current_traceparent()
    if traceparent is not None:
        body[TRACE_FIELD] = traceparent  # the order's trace goes on with the event
    # The JSON text as a plain parameter: a quoted literal, as ``Json`` would send it, that
    # PostgreSQL reads as the jsonb column's value, without the adapter's Python on the way.
    cur.execute(
        INSERT_EVENT, (event_id, event_type.name, event_type.source, _dumps(body)),
    )
    return event_id


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value, default=str).decode()  # every order writes one
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, default=str, separators=(",", ":"))
