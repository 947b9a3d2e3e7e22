"""Flask's JSON provider, with its encoding done by orjson.

Every response body is encoded here. orjson gives the same JSON as Flask's default provider
(sorted keys; dates, dataclasses and anything else it does not know handed to Flask's own
``default``), several times faster; only non-ASCII characters come out as UTF-8 rather than
``\\u`` escapes, which is the same JSON. A value orjson refuses (a lone surrogate, an integer
past 64 bits) is encoded by Flask's provider instead.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
            | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS)


_COMPACT = {"separators": (",", ":")}
"""What Flask's ``response()`` (``jsonify``, ``@output``, the error handlers) asks for: the
compact JSON orjson writes."""


def _dumps_bytes(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj, default=DefaultJSONProvider.default, option=_OPTIONS)
    except (orjson.JSONEncodeError, TypeError):
        # What DefaultJSONProvider.dumps does (it needs no app for it).
        return json.dumps(obj, default=DefaultJSONProvider.default,
                          ensure_ascii=DefaultJSONProvider.ensure_ascii,
                          sort_keys=DefaultJSONProvider.sort_keys).encode()


class FastJSONProvider(DefaultJSONProvider):
    """``DefaultJSONProvider`` whose ``dumps`` is orjson when called as Flask does."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Encode ``obj``; pretty-printing and other options go to the default provider."""
        if not kwargs or kwargs == _COMPACT:
            return _dumps_bytes(obj).decode()
        return super().dumps(obj, **kwargs)
