"""Publishing to the EventBridge bus with PutEvents, one result per entry.

PutEvents is not all-or-nothing: a call can succeed while some of its entries fail.
``EventBus.publish`` therefore answers per entry, and raises ``BusUnavailable`` only
when the call as a whole did not happen (network, throttling after retries, 5xx).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

MAX_ENTRIES_PER_CALL = 10
"""The PutEvents limit on entries per request."""


class BusUnavailable(Exception):
    """The PutEvents call itself failed; no entry is known to be accepted."""


@dataclass(frozen=True)
class OutgoingEvent:
    """One event to publish; ``key`` lets the caller match results to its rows."""

    key: Any
    detail_type: str
    source: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class EntryResult:
    """EventBridge's answer for one entry: an envelope id, or an error."""

    key: Any
    accepted: bool
    envelope_id: str | None = None
    error: str | None = None


class EventBus:
    """A custom EventBridge bus reached through a boto3 ``events`` client."""

    def __init__(self, events_client, bus_name: str) -> None:
        self._client = events_client
        self.bus_name = bus_name

    def publish(self, events: Sequence[OutgoingEvent]) -> list[EntryResult]:
        """Send ``events`` in PutEvents calls of at most ten; return one result per event."""
        results: list[EntryResult] = []
        for start in range(0, len(events), MAX_ENTRIES_PER_CALL):
            results.extend(self._put(events[start:start + MAX_ENTRIES_PER_CALL]))
        return results

    def _put(self, batch: Sequence[OutgoingEvent]) -> list[EntryResult]:
        entries = [
            {"EventBusName": self.bus_name, "Source": e.source, "DetailType": e.detail_type,
             "Detail": json.dumps(e.detail, separators=(",", ":"), default=str)}
            for e in batch
        ]
        try:
            response = self._client.put_events(Entries=entries)
        except (BotoCoreError, ClientError) as exc:
            raise BusUnavailable(f"PutEvents to {self.bus_name} failed: {exc}") from exc
        # Entries come back in request order, one per entry sent.
        return [_entry_result(event, answer)
                for event, answer in zip(batch, response["Entries"], strict=True)]


def _entry_result(event: OutgoingEvent, answer: dict[str, Any]) -> EntryResult:
    if answer.get("EventId") and not answer.get("ErrorCode"):
        return EntryResult(key=event.key, accepted=True, envelope_id=answer["EventId"])
    error = f"{answer.get('ErrorCode', 'Unknown')}: {answer.get('ErrorMessage', '')}".strip()
    return EntryResult(key=event.key, accepted=False, error=error)
