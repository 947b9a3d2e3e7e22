"""The web edge's two small shortcuts hold to what the libraries would do without them: the
Idempotency-Key headers schema loads as marshmallow does, and the APIs keep no sessions."""

from __future__ import annotations

import pytest
from flask import session
from flask.sessions import NullSession
from marshmallow import EXCLUDE, Schema, ValidationError
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import Headers

from order_platform.entrypoints.web.app import ApiApp
from order_platform.entrypoints.write_api.schemas import IDEMPOTENCY_HEADER, IdempotencyHeaders


def _headers(**extra: str) -> MultiDictProxy:
    """Request headers as webargs hands them to the schema."""
    schema = IdempotencyHeaders()
    return MultiDictProxy(Headers({"Content-Type": "application/json", **extra}), schema)


@pytest.mark.parametrize("headers", [
    _headers(), _headers(**{IDEMPOTENCY_HEADER: "key-1"}), _headers(**{"idempotency-key": "k"}),
    _headers(**{IDEMPOTENCY_HEADER: ""}), _headers(**{IDEMPOTENCY_HEADER: "two words"}),
    {}, {IDEMPOTENCY_HEADER: "key-2"},
])
def test_the_headers_load_as_marshmallow_loads_them(headers):
    schema = IdempotencyHeaders()

    def marshmallows() -> object:
        try:
            return Schema.load(schema, headers, unknown=EXCLUDE)
        except ValidationError as exc:
            return exc.messages

    def ours() -> object:
        try:
            return schema.load(headers, unknown=EXCLUDE)
        except ValidationError as exc:
            return exc.messages

    assert ours() == marshmallows()


def test_every_request_gets_the_one_null_session_which_refuses_writes():
    app = ApiApp(__name__)
    seen = []

    @app.get("/read")
    def read() -> dict[str, object]:
        seen.append(session._get_current_object())
        return {"user": session.get("user")}

    @app.get("/write")
    def write() -> dict[str, object]:
        session["user"] = "someone"
        return {}

    client = app.test_client()
    answers = [client.get("/read") for _ in range(2)]
    assert [a.json for a in answers] == [{"user": None}] * 2
    assert "Set-Cookie" not in answers[0].headers
    assert seen[0] is seen[1], "not made anew for each request (Flask's default)"
    assert isinstance(seen[0], NullSession)
    assert client.get("/write").status_code == 500  # a null session refuses to be written
