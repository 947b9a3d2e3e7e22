"""``logs.info`` writes the line a record would have made, and only when nothing else listens."""

from __future__ import annotations

import io
import json
import logging
import uuid

import pytest

from order_platform import logs, topology
from order_platform.adapters.queues import ReceivedMessage
from order_platform.entrypoints.worker.wiring import message_handler

FIELDS = {"request_id": "r-1", "method": "POST", "path": "/orders", "status": 202,
          "duration_ms": 1.25, "remote_addr": "127.0.0.1", "order_id": "o-1"}


@pytest.fixture
def configured(monkeypatch):
    """configure_logging's handler on a buffer; logging as it was afterwards."""
    for name in ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing"):
        monkeypatch.setattr(logging, name, getattr(logging, name))  # restored at teardown
    root = logging.getLogger()
    quietened = [logging.getLogger(name) for name in ("botocore", "urllib3")]
    saved = root.handlers[:], root.level, [q.level for q in quietened]
    monkeypatch.setattr(logs, "_handler", None)
    logs.configure_logging("INFO", service="write-api")
    stream = logs._handler.stream = io.StringIO()
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])  # setLevel, not assignment: it clears the loggers' caches
        for logger, level in zip(quietened, saved[2], strict=True):
            logger.setLevel(level)


def _alone() -> None:
    """Our handler alone on the root logger, as in a process we start (pytest puts its
    capturing handlers beside it for every test)."""
    logging.getLogger().handlers[:] = [logs._handler]


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _without_ts(line: dict) -> dict:
    return {k: v for k, v in line.items() if k != "ts"}


def _strip_ts(line: str) -> str:
    """A written line without its timestamp, JSON or not."""
    try:
        return json.dumps(_without_ts(json.loads(line)))
    except ValueError:
        return line


def test_the_direct_line_is_the_records_line(configured):
    _alone()
    logger = logging.getLogger("order_platform.access")
    token = logs.event_id.set("e-1")
    try:
        logs.info(logger, "POST /orders 202", FIELDS)
        assert logs._handler.serves(logger, logging.INFO)
        logger.info("POST /orders 202", extra=FIELDS)  # the record's way, through logging
    finally:
        logs.event_id.reset(token)
    direct, recorded = _lines(configured)
    assert _without_ts(direct) == _without_ts(recorded)
    assert list(direct) == list(recorded)  # the same keys in the same order
    assert direct["service"] == "write-api" and direct["event_id"] == "e-1"
    assert direct["logger"] == "order_platform.access" and direct["level"] == "INFO"


def test_a_second_handler_gets_the_record(configured, caplog):
    # caplog's handler sits on the root logger beside ours: the line must be a record.
    logger = logging.getLogger("order_platform.access")
    caplog.set_level(logging.INFO, logger="order_platform.access")
    assert not logs._handler.serves(logger, logging.INFO)
    logs.info(logger, "POST /orders 202", FIELDS)
    [record] = [r for r in caplog.records if r.name == "order_platform.access"]
    assert record.request_id == "r-1" and record.getMessage() == "POST /orders 202"


@pytest.mark.parametrize("change", ["disabled", "level", "own_handler", "no_propagate",
                                    "logger_filter", "parent_handler", "disable",
                                    "handler_level", "handler_filter", "formatter"])
def test_anything_else_listening_gets_what_logging_decides(configured, change):
    _alone()
    logger = logging.getLogger("order_platform.test_lines")
    parent = logging.getLogger("order_platform")
    other, refuse = logging.NullHandler(), logging.Filter("nothing.passes")
    undo = {
        "disabled": lambda on: setattr(logger, "disabled", on),
        "level": lambda on: logger.setLevel(logging.WARNING if on else logging.NOTSET),
        "own_handler": lambda on: (logger.addHandler if on else logger.removeHandler)(other),
        "no_propagate": lambda on: setattr(logger, "propagate", not on),
        "logger_filter": lambda on: (logger.addFilter if on else logger.removeFilter)(refuse),
        "parent_handler": lambda on: (parent.addHandler if on else parent.removeHandler)(other),
        "disable": lambda on: logging.disable(logging.INFO if on else logging.NOTSET),
        "handler_level": lambda on: logs._handler.setLevel(
            logging.WARNING if on else logging.NOTSET),
        "handler_filter": lambda on: (logs._handler.addFilter if on
                                      else logs._handler.removeFilter)(refuse),
        "formatter": lambda on: logs._handler.setFormatter(
            logging.Formatter("%(message)s") if on else logs.JsonLines()),
    }[change]
    undo(True)
    try:
        assert not logs._handler.serves(logger, logging.INFO)
        logs.info(logger, "GET /healthz 200", FIELDS)
        ours = configured.getvalue()
        configured.seek(0)
        configured.truncate()
        logger.info("GET /healthz 200", extra=FIELDS)
        # Line for line what logging itself wrote (nothing, when it decided to write nothing).
        assert [_strip_ts(line) for line in configured.getvalue().splitlines()] == [
            _strip_ts(line) for line in ours.splitlines()]
    finally:
        undo(False)
    assert logs._handler.serves(logger, logging.INFO)


def test_a_failing_stream_is_reported_not_raised(configured, monkeypatch):
    _alone()
    reported = []
    monkeypatch.setattr(logs._handler, "handleError", reported.append)

    class Broken(io.StringIO):
        def write(self, text):
            raise BrokenPipeError

    logs._handler.stream = Broken()
    logs.info(logging.getLogger("order_platform.access"), "POST /orders 202", FIELDS)
    assert [r.getMessage() for r in reported] == ["POST /orders 202"]


def test_context_ids_and_the_trace_join_the_line_as_they_join_a_record(configured, monkeypatch):
    _alone()
    monkeypatch.setattr(logs, "trace_ids", lambda: ("t" * 32, "s" * 16))
    logger = logging.getLogger("order_platform.access")
    token = logs.request_id.set("from-context")
    try:
        logs.info(logger, "GET /orders 200", {"status": 200})  # no request_id of its own
        logger.info("GET /orders 200", extra={"status": 200})
    finally:
        logs.request_id.reset(token)
    direct, recorded = _lines(configured)
    assert _without_ts(direct) == _without_ts(recorded)
    assert list(direct) == list(recorded)
    assert (direct["request_id"], direct["trace_id"], direct["span_id"]) == (
        "from-context", "t" * 32, "s" * 16)


def test_a_field_logging_reserves_is_refused_as_logging_refuses_it(configured):
    _alone()
    with pytest.raises(KeyError):
        logs.info(logging.getLogger("order_platform.access"), "m", {"message": "mine"})
    assert configured.getvalue() == ""


def test_a_line_that_cannot_be_encoded_is_reported_not_raised(configured, monkeypatch):
    _alone()
    reported = []
    monkeypatch.setattr(logs._handler, "handleError", reported.append)
    circular: dict = {}
    circular["self"] = circular
    logs.info(logging.getLogger("order_platform.access"), "POST /orders 202", {"x": circular})
    assert [r.getMessage() for r in reported] == ["POST /orders 202"]
    assert configured.getvalue() == ""


def test_a_logger_outside_the_hierarchy_gets_the_record(configured):
    _alone()
    assert not logs._handler.serves(logging.Logger("detached"), logging.INFO)


def _message(event_type: topology.EventType, detail: dict) -> ReceivedMessage:
    envelope = {"id": str(uuid.uuid4()), "source": event_type.source,
                "detail-type": event_type.name,
                "detail": {**detail, "event_id": str(uuid.uuid4())}}
    return ReceivedMessage(queue_url="q", message_id="m", receipt_handle="r",
                           body=json.dumps(envelope), receive_count=1)


@pytest.mark.parametrize(("event_type", "detail", "order_id"), [
    (topology.PRODUCT_CREATED, {"product_id": "p-1", "sku": "SKU-1"}, None),
    (topology.INVENTORY_UPDATED, {"order_id": "o-1", "lines": []}, "o-1"),
])
def test_a_handled_line_names_an_order_only_for_an_event_about_one(configured, event_type,
                                                                   detail, order_id):
    _alone()
    handle = message_handler(topology.PRODUCT_CACHE_QUEUE, lambda event: "EVICTED")
    assert handle(_message(event_type, detail)) == "EVICTED"
    [line] = [line for line in _lines(configured) if line["message"] == "event handled"]
    assert line.get("order_id") == order_id  # absent, not the text "None"
    assert line["event_id"] and line["service"] == "write-api"
