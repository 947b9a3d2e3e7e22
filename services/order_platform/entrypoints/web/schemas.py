"""Schemas and fields both APIs share: safe text, cursors, products, the error body."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from apiflask import Schema, fields, validators
from marshmallow import ValidationError

from order_platform.domain.catalog import MAX_PRICE_CENTS, MAX_STOCK, sku_problem
from order_platform.entrypoints.web.dumping import OutputSchema
from order_platform.service_layer import pagination

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The rules below in ECMA-262 regex syntax, so that the OpenAPI document states them.
TEXT_PATTERN = r"^[^\u0000-\u001f\u007f]*$"
SKU_DOC_PATTERN = (r"^(?![0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$)"
                   r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class Text(fields.String):
    """A string PostgreSQL can store: no NUL, no lone surrogates, no control characters."""

    default_error_messages = {
        "unstorable": "Must not contain NUL, control characters or unpaired surrogates.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {"pattern": TEXT_PATTERN, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # "\ud800" parses from JSON but cannot be stored
            raise self.make_error("unstorable") from exc
        if _CONTROL.search(text):
            raise self.make_error("unstorable")
        return text


class Sku(Text):
    """A SKU, by the catalogue's rules."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {"pattern": SKU_DOC_PATTERN, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> Any:
        sku = super()._deserialize(value, attr, data, **kwargs)
        problem = sku_problem(sku)
        if problem:
            raise ValidationError(f"Not a valid SKU: {problem}.")
        return sku


class WholeNumber(fields.Integer):
    """A JSON integer: 3, and 3.0 too (JSON Schema calls it one); never 3.5, "3" or true."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> int:
        # json.loads reads 3.0 as a float; strict alone would reject it with 422 although
        # the document's ``type: integer`` accepts it.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._validated(value)


class CursorField(fields.String):
    """An opaque keyset cursor for one list ('orders' or 'products')."""

    def __init__(self, kind: str, **kwargs: Any) -> None:
        # Documented only: decode() checks the length before it parses the token.
        kwargs["metadata"] = {"minLength": 1, "maxLength": pagination.MAX_CURSOR_LENGTH,
                              **kwargs.get("metadata", {})}
        super().__init__(**kwargs)
        self.kind = kind

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> Any:
        token = super()._deserialize(value, attr, data, **kwargs)
        try:
            return pagination.decode(token, self.kind)
        except pagination.CursorError as exc:
            raise ValidationError(f"Invalid cursor: {exc}.") from exc


def limit_field() -> fields.Integer:
    """The page size of a list: 1 to 100, 20 when absent."""
    return fields.Integer(load_default=20, validate=validators.Range(1, 100),
                          metadata={"description": "Page size, 1-100."})


class ErrorDetail(Schema):
    """The inside of every error response."""

    code = fields.String(required=True, metadata={"example": "validation_failed"})
    message = fields.String(required=True)
    details = fields.Raw(metadata={"description": "Structured context; shape depends on code."})


class ErrorResponse(Schema):
    """Every error: {"error": {"code", "message", "details"}}."""

    error = fields.Nested(ErrorDetail, required=True)


class RecordOut(OutputSchema):
    """What every stored record shows: its id, when it was created and last changed."""

    id = fields.UUID(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class ProductOut(RecordOut):
    """A catalogue product."""

    sku = fields.String(required=True)
    name = fields.String(required=True)
    price_cents = fields.Integer(required=True, metadata={"maximum": MAX_PRICE_CENTS})
    stock = fields.Integer(required=True, metadata={"maximum": MAX_STOCK})


class OrderLineOut(OutputSchema):
    """A priced line of an order, price fixed at order time."""

    line_no = fields.Integer(required=True)
    product_id = fields.UUID(required=True)
    sku = fields.String(required=True)
    quantity = fields.Integer(required=True)
    unit_price_cents = fields.Integer(required=True)
    line_total_cents = fields.Integer(required=True)
