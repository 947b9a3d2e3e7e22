"""Query and response schemas of the read API (validation and OpenAPI in one)."""

from __future__ import annotations

from typing import Any

from apiflask import Schema, fields, validators
from marshmallow import ValidationError, validates_schema

from order_platform.domain.model import OrderStatus
from order_platform.domain.orders import MAX_CUSTOMER_ID_LENGTH
from order_platform.entrypoints.web.dumping import OutputSchema
from order_platform.entrypoints.web.schemas import (
    CursorField,
    OrderLineOut,
    ProductOut,
    RecordOut,
    Text,
    limit_field,
)
from order_platform.service_layer import product_cache
from order_platform.service_layer.order_queries import OrderFilters
from order_platform.service_layer.product_queries import PRODUCT_LIST_SCOPE

_STATUSES = [s.value for s in OrderStatus]
_CURSOR_MISMATCH = "This cursor belongs to a different list or filters; start without a cursor."

CACHED_STOCK = (
    "May be served from the product cache (`Cache-Status: "
    f"{product_cache.CACHE_NAME}; hit`), so `stock` is informational, never a promise: "
    "whether an order gets the units is decided only by the writer when it deducts them. "
    "A change (creation, restock, sale) usually shows here as soon as its event reaches the "
    "worker, well under a second; at worst, when that eviction cannot land, a cached entry "
    f"is at most {product_cache.TTL_MS // 1000} s old.")
"""The staleness label of every read the product cache may serve."""


class OrderListQuery(Schema):
    """Filters and position of the order list (newest first)."""

    customer_id = Text(validate=validators.Length(1, MAX_CUSTOMER_ID_LENGTH))
    status = fields.Enum(OrderStatus, by_value=True)
    limit = limit_field()
    cursor = CursorField("orders", metadata={"description": "next_cursor of the previous page."})

    @validates_schema
    def _cursor_matches_filters(self, data: dict[str, Any], **kwargs: Any) -> None:
        cursor = data.get("cursor")
        status = data.get("status")
        filters = OrderFilters(customer_id=data.get("customer_id"),
                               status=status.value if status else None)
        if cursor is not None and cursor.scope != filters.scope():
            raise ValidationError(_CURSOR_MISMATCH, "cursor")


class ProductListQuery(Schema):
    """Position in the product list (SKU order)."""

    limit = limit_field()
    cursor = CursorField("products", metadata={"description": "next_cursor of the previous page."})

    @validates_schema
    def _cursor_is_for_products(self, data: dict[str, Any], **kwargs: Any) -> None:
        cursor = data.get("cursor")
        if cursor is not None and cursor.scope != PRODUCT_LIST_SCOPE:
            raise ValidationError(_CURSOR_MISMATCH, "cursor")


class CacheStatusHeader(Schema):
    """The response header that says whether the product cache served the read."""

    cache_status = fields.String(
        data_key="Cache-Status", required=True,
        metadata={"description": (
            f"RFC 9211: `{product_cache.CACHE_NAME}; hit` (from the cache), `...; fwd=miss; "
            "stored` (read from the database and cached), `...; fwd=miss` (read from the "
            "database while another request filled the cache) or `...; fwd=bypass` (read "
            "from the database: no cache, or it is down).")})


class HistoryEntryOut(OutputSchema):
    """One status transition."""

    status = fields.String(required=True, metadata={"enum": _STATUSES})
    reason = fields.String(allow_none=True)
    occurred_at = fields.DateTime(required=True)


class OrderSummaryOut(RecordOut):
    """An order without its lines and history."""

    customer_id = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": _STATUSES})
    rejection_reason = fields.String(allow_none=True)
    total_cents = fields.Integer(required=True)


class OrderOut(OrderSummaryOut):
    """An order with its lines and its status history, oldest first."""

    lines = fields.List(fields.Nested(OrderLineOut), required=True)
    history = fields.List(fields.Nested(HistoryEntryOut), required=True)


class OrderPage(OutputSchema):
    """A page of orders; pass next_cursor back to get the next one (null at the end)."""

    items = fields.List(fields.Nested(OrderSummaryOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class ProductListItem(ProductOut):
    """A product in a page.

    Its own class because apiflask registers nested schemas before response schemas
    of longer paths; sharing ProductOut would put it in the spec twice.
    """


class ProductPage(OutputSchema):
    """A page of products; pass next_cursor back to get the next one (null at the end)."""

    items = fields.List(fields.Nested(ProductListItem), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
