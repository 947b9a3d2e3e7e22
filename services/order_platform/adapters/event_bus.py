"""Publishing to the EventBridge bus with PutEvents, one result per entry.

PutEvents is not all-or-nothing: a call can succeed while some of its entries fail.
``EventBus.publish`` therefore answers per entry, and raises ``BusUnavailable`` only
when a call as a whole did not happen (network, throttling after retries, 5xx).

EventBridge refuses a whole request whose entries add up to 256 KB or more. One large
event in a batch would then fail every call it is part of, for ever, and hold up the
events behind it. So entries are packed into calls by size as well as by count, and an
entry too large to send on its own is answered as a per-entry rejection without being
sent: it can be parked like any other entry EventBridge keeps rejecting.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from order_platform.adapters import tracing
from order_platform.service_layer.ports import (
    MAX_ENTRIES_PER_CALL,
    BusUnavailable,
    EntryResult,
    OutgoingEvent,
)

MAX_REQUEST_BYTES = 256 * 1024
"""The PutEvents limit on the summed entry sizes of one request (they must stay below it)."""
ENTRY_TOO_LARGE = "EntryTooLarge"
"""Our error code for an entry not sent because it alone reaches ``MAX_REQUEST_BYTES``."""


def request_entry(event: OutgoingEvent, bus_name: str) -> dict[str, str]:
    """The PutEvents request entry of ``event``."""
    return {"EventBusName": bus_name, "Source": event.source, "DetailType": event.detail_type,
            "Detail": json.dumps(event.detail, separators=(",", ":"), default=str)}


def entry_size(entry: dict[str, str]) -> int:
    """The size EventBridge counts for an entry: UTF-8 bytes of Source, DetailType, Detail."""
    return sum(len(entry[k].encode()) for k in ("Source", "DetailType", "Detail"))


class EventBus:
    """A custom EventBridge bus reached through a boto3 ``events`` client; each event
    published in a span of its own when the process traces."""

    def __init__(self, events_client: Any, bus_name: str,
                 traces: tracing.Tracing | None = None) -> None:
        self._client = events_client
        self.bus_name = bus_name
        self._traces = traces

    def publish(self, events: Sequence[OutgoingEvent]) -> list[EntryResult]:
        """Send ``events`` in PutEvents calls within the count and size limits.

        Returns one result per event. Raises BusUnavailable when a call fails; the
        exception carries the results of the calls made before it.
        """
        with tracing.publishing(self._traces, events):
            return self._publish(events)

    def _publish(self, events: Sequence[OutgoingEvent]) -> list[EntryResult]:
        results: list[EntryResult] = []
        calls: list[list[tuple[OutgoingEvent, dict[str, str]]]] = [[]]
        used = 0
        for event in events:
            entry = request_entry(event, self.bus_name)
            size = entry_size(entry)
            if size >= MAX_REQUEST_BYTES:
                results.append(EntryResult(
                    key=event.key, accepted=False,
                    error=f"{ENTRY_TOO_LARGE}: entry is {size} bytes; PutEvents takes less "
                          f"than {MAX_REQUEST_BYTES}"))
                continue
            if len(calls[-1]) == MAX_ENTRIES_PER_CALL or used + size >= MAX_REQUEST_BYTES:
                calls.append([])
                used = 0
            calls[-1].append((event, entry))
            used += size
        for call in calls:
            if not call:
                continue
            try:
                results.extend(self._put(call))
            except BusUnavailable as exc:
                raise BusUnavailable(str(exc), settled=results) from exc
        return results

    def _put(self, call: list[tuple[OutgoingEvent, dict[str, str]]]) -> list[EntryResult]:
        try:
            response = self._client.put_events(Entries=[entry for _, entry in call])
        except (BotoCoreError, ClientError) as exc:
            raise BusUnavailable(f"PutEvents to {self.bus_name} failed: {exc}") from exc
        # Entries come back in request order, one per entry sent.
        return [_entry_result(event, answer)
                for (event, _), answer in zip(call, response["Entries"], strict=True)]


def _entry_result(event: OutgoingEvent, answer: dict[str, Any]) -> EntryResult:
    if answer.get("EventId") and not answer.get("ErrorCode"):
        return EntryResult(key=event.key, accepted=True, envelope_id=answer["EventId"])
    error = f"{answer.get('ErrorCode', 'Unknown')}: {answer.get('ErrorMessage', '')}".strip()
    return EntryResult(key=event.key, accepted=False, error=error)
