"""What marshmallow's converter cannot say in OpenAPI: cross-field rules of a schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apispec import BasePlugin


class CrossFieldRules(BasePlugin):
    """Publish a schema's ``openapi_rules`` (e.g. a ``oneOf``) in its component.

    A ``@validates_schema`` rule is invisible to the converter, so without this the
    document would call bodies valid that the API answers with 422. The schema that
    enforces a rule also states it, next to the code that enforces it.
    """

    def schema_helper(self, name: str, definition: dict[str, Any], schema: Any = None,
                      **kwargs: Any) -> dict[str, Any] | None:
        """Merge the schema's rules into the JSON schema the converter produced."""
        rules = getattr(schema, "openapi_rules", None)
        return dict(rules) if rules else None


def require_request_bodies(spec: dict[str, Any] | str) -> dict[str, Any] | str:
    """Mark every request body required: a POST without one is refused with 415."""
    if isinstance(spec, str):  # the spec as JSON text (SPEC_FORMAT): nothing to mark
        return spec
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation["requestBody"]["required"] = True
    return spec


def error_with_retry_after(description: str, *, always: bool) -> dict[str, Any]:
    """An error response documented with its ``Retry-After`` header (seconds).

    ``always`` when every such response carries it (503); otherwise it is there only
    when a retry can help (a read API 404 for a well-formed id).
    """
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
        "headers": {"Retry-After": {
            "description": "Seconds to wait before retrying.",
            "required": always,
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }},
    }


def responses(*parts: Mapping[int, str | dict[str, Any]]) -> Any:
    """``@doc(responses=...)`` from ``parts`` merged in order: a description (an error
    response then gets the error schema) or a complete response object, per status. (APIFlask
    takes the mix, though its annotation wants one kind or the other.)"""
    merged: dict[int, str | dict[str, Any]] = {}
    for part in parts:
        merged.update(part)
    return merged


UNAVAILABLE: dict[int, str | dict[str, Any]] = {503: error_with_retry_after(
    "The database did not answer, or not in time; retry after Retry-After seconds.",
    always=True)}
"""The response every operation that touches the database may give."""
