"""The drain's one reliance on a gunicorn internal: a ``pre_request`` hook that calls the
request's ``force_close`` makes gunicorn close the connection after the response
(``entrypoints/web/draining.py``). An upgrade of gunicorn that drops or changes it fails here."""

from __future__ import annotations

import tempfile

from gunicorn.config import Config
from gunicorn.http.message import Request
from gunicorn.http.unreader import IterUnreader

from order_platform.entrypoints.web import draining


def _kept_alive_request() -> Request:
    """An HTTP/1.1 request as gunicorn parses it: its connection stays open by default."""
    raw = b"GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n"
    return Request(Config(), IterUnreader([raw]), ("127.0.0.1", 40000))


def test_gunicorn_closes_the_connection_of_a_request_the_drain_marks(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the marker's directory
    serving, drained = _kept_alive_request(), _kept_alive_request()
    draining.close_when_draining(serving)
    assert serving.should_close() is False, "not draining: the connection stays open"

    draining.start()
    draining.close_when_draining(drained)
    assert drained.should_close() is True, (
        "gunicorn no longer closes the connection of a request told to force_close(): "
        "the drain (entrypoints/web/draining.py) needs another way to send Connection: close")
