"""Request and response schemas of the write API (validation and OpenAPI in one)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apiflask import Schema, fields, validators
from marshmallow import EXCLUDE, ValidationError, missing, post_load, validates_schema
from marshmallow.types import UnknownOption

from order_platform.domain.catalog import MAX_PRICE_CENTS, MAX_STOCK, RestockMode
from order_platform.domain.model import OrderStatus
from order_platform.domain.orders import (
    MAX_LINE_QUANTITY,
    MAX_LINES,
    OrderItem,
)
from order_platform.entrypoints.web.dumping import OutputSchema
from order_platform.entrypoints.web.schemas import OrderLineOut, Sku, Text, WholeNumber
from order_platform.entrypoints.write_api import orders_fast_path


class OrderItemIn(Schema):
    """One requested line: exactly one of product_id or sku, and a quantity."""

    product_id = fields.UUID(metadata={"description": "Give this or sku, not both."})
    sku = Sku(metadata={"description": "Give this or product_id, not both.",
                        "example": "MUG-BLUE"})
    quantity = WholeNumber(required=True, validate=validators.Range(1, MAX_LINE_QUANTITY))

    openapi_rules = {"oneOf": [{"required": ["product_id"]}, {"required": ["sku"]}]}

    @validates_schema
    def _exactly_one_product_ref(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("product_id" in data) == ("sku" in data):
            raise ValidationError("Give exactly one of product_id or sku.")

    @post_load
    def _to_item(self, data: dict[str, Any], **kwargs: Any) -> OrderItem:
        return OrderItem(**data)


class OrderIn(Schema):
    """A new order. Each product may appear on one line only. The customer is the caller (the
    token's subject), never a field of the body."""

    def load(self, data: Any, *, many: bool | None = None, partial: Any = None,
             unknown: UnknownOption | None = None) -> Any:
        """marshmallow's load, with plainly valid bodies recognised by ``orders_fast_path``."""
        if not (many or partial or unknown):
            fast = orders_fast_path.load(data)
            if fast is not None:
                return fast
        return super().load(data, many=many, partial=partial, unknown=unknown)

    items = fields.List(fields.Nested(OrderItemIn), required=True,
                        validate=validators.Length(1, MAX_LINES))


def _printable_ascii(value: str) -> None:
    if not all("!" <= ch <= "~" for ch in value):
        raise ValidationError("Must be printable ASCII without spaces.")


IDEMPOTENCY_HEADER = "Idempotency-Key"


class IdempotencyHeaders(Schema):
    """The optional Idempotency-Key: a repeat with the same key and body replays."""

    def load(self, data: Any, *, many: bool | None = None, partial: Any = None,
             unknown: UnknownOption | None = None) -> Any:
        """marshmallow's load; headers without the key (most requests) load as marshmallow
        loads them, to nothing, without its field machinery."""
        if not (many or partial) and unknown == EXCLUDE and isinstance(data, Mapping) \
                and data.get(IDEMPOTENCY_HEADER, missing) is missing:
            return {}
        return super().load(data, many=many, partial=partial, unknown=unknown)

    idempotency_key = fields.String(
        data_key=IDEMPOTENCY_HEADER,
        validate=[validators.Length(1, 255), _printable_ascii],
        metadata={"description": "A client-chosen unique key, e.g. a uuid.",
                  "pattern": "^[!-~]+$"},
    )


class OrderAccepted(OutputSchema):
    """The order as accepted: PENDING until the pipeline validates stock."""

    id = fields.UUID(required=True, attribute="order_id")
    status = fields.Enum(OrderStatus, by_value=True, required=True)
    customer_id = fields.String(required=True)
    total_cents = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    lines = fields.List(fields.Nested(OrderLineOut), required=True)


class ProductIn(Schema):
    """A new catalogue product."""

    sku = Sku(required=True, metadata={"example": "MUG-BLUE"})
    name = Text(required=True, validate=validators.Length(1, 200),
                metadata={"example": "Blue mug"})
    price_cents = WholeNumber(required=True, validate=validators.Range(0, MAX_PRICE_CENTS))
    stock = WholeNumber(load_default=0, validate=validators.Range(0, MAX_STOCK))


class RestockIn(Schema):
    """Set stock to a level, or add to it."""

    mode = fields.Enum(RestockMode, by_value=True, required=True)
    quantity = WholeNumber(required=True, validate=validators.Range(0, MAX_STOCK),
                           metadata={"description": "The new level (set) or the increase "
                                                    "(add, at least 1)."})

    openapi_rules = {"oneOf": [
        {"properties": {"mode": {"enum": [RestockMode.SET.value]}}},
        {"properties": {"mode": {"enum": [RestockMode.ADD.value]},
                        "quantity": {"minimum": 1}}},
    ]}

    @validates_schema
    def _add_adds_something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["mode"] is RestockMode.ADD and data["quantity"] < 1:
            raise ValidationError("Must be at least 1 when mode is add.", "quantity")
