"""``plain_json_body``: the one body form the hot routes take; everything else is Flask's. And
the status line a hot answer is sent with."""

from __future__ import annotations

import io

import pytest
from werkzeug.wrappers import Response

from order_platform.entrypoints.web.fast_io import Answer
from order_platform.entrypoints.web.requests import MAX_BODY_BYTES, plain_json_body


def _environ(body: bytes, **overrides) -> dict:
    environ = {"CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body)}
    environ.update(overrides)
    return {key: value for key, value in environ.items() if value is not None}


def test_a_plain_body_is_parsed_and_can_be_read_again():
    environ = _environ(b'{"customer_id": "c-1", "n": [1, 2]}')
    assert plain_json_body(environ) == {"customer_id": "c-1", "n": [1, 2]}
    assert environ["wsgi.input"].read() == b'{"customer_id": "c-1", "n": [1, 2]}'


@pytest.mark.parametrize("overrides", [
    {"CONTENT_TYPE": "application/json; charset=utf-8"},
    {"CONTENT_TYPE": "application/merge-patch+json"},
    {"CONTENT_TYPE": "text/plain"},
    {"CONTENT_TYPE": None},
    {"CONTENT_LENGTH": None},
    {"CONTENT_LENGTH": ""},
    {"CONTENT_LENGTH": "0"},
    {"CONTENT_LENGTH": "+2"},
    {"CONTENT_LENGTH": " 2"},
    {"CONTENT_LENGTH": "٢"},  # a digit to str.isdigit, not to HTTP
    {"CONTENT_LENGTH": str(MAX_BODY_BYTES + 1)},
    {"CONTENT_LENGTH": "9" * 5000},  # int() of it would raise
    {"CONTENT_LENGTH": "0" * 5000},
    {"HTTP_TRANSFER_ENCODING": "chunked"},
], ids=repr)
def test_any_other_form_is_left_to_flask_unread(overrides):
    environ = _environ(b"{}", **overrides)
    assert plain_json_body(environ) is None
    assert environ["wsgi.input"].read() == b"{}"


@pytest.mark.parametrize("body", [b'{"a": ', b"\xff\xfe{}", b"\xef\xbb\xbf{}", b"[" * 100_000,
                                  b"1" * 5000])
def test_a_body_that_is_not_utf8_json_is_left_to_flask_with_its_bytes(body):
    environ = _environ(body)
    assert plain_json_body(environ) is None
    assert environ["wsgi.input"].read() == body


def test_a_body_shorter_than_its_length_is_left_to_flask_with_what_came():
    environ = _environ(b"{}", CONTENT_LENGTH="10")
    assert plain_json_body(environ) is None
    assert environ["wsgi.input"].read() == b"{}"


def test_leading_zeros_are_still_the_length():
    assert plain_json_body(_environ(b"{}", CONTENT_LENGTH="0002")) == {}


def test_a_body_at_the_limit_is_plain():
    body = b'{"pad": "' + b"x" * (MAX_BODY_BYTES - 11) + b'"}'
    assert len(body) == MAX_BODY_BYTES
    assert plain_json_body(_environ(body)) == {"pad": "x" * (MAX_BODY_BYTES - 11)}


def test_an_answer_has_werkzeugs_status_line_even_for_a_code_it_does_not_name():
    assert Answer(202, b"").status_line == "202 ACCEPTED"
    assert Answer(299, b"").status_line == "299 UNKNOWN"
    assert Answer(299, b"").status_line == Response(status=299).status
