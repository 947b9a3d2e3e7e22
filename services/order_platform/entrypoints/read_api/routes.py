"""Read API routes: parse, call one query, shape the response."""

from __future__ import annotations

import uuid
from typing import Any

from apiflask import APIBlueprint
from flask import current_app

from order_platform.entrypoints.read_api.schemas import (
    CACHED_STOCK,
    CacheStatusHeader,
    OrderListQuery,
    OrderOut,
    OrderPage,
    ProductListQuery,
    ProductPage,
)
from order_platform.entrypoints.web.auth import CALLER, PUBLIC, allow, caller
from order_platform.entrypoints.web.dependencies import dependencies
from order_platform.entrypoints.web.openapi import (
    UNAVAILABLE,
    error_with_retry_after,
    responses,
)
from order_platform.entrypoints.web.requests import set_order_id
from order_platform.entrypoints.web.schemas import ProductOut
from order_platform.service_layer import order_queries, product_cache
from order_platform.service_layer.ports import Cache

CACHE_EXTENSION = "order_platform.product_cache"
"""Where the app keeps its product cache (None when the stack has none)."""

orders = APIBlueprint("orders", __name__, tag="orders")
products = APIBlueprint("products", __name__, tag="products")

_LAGGING_404 = {404: error_with_retry_after(
    "Not found (yet): the reader may lag the writer by a moment; with Retry-After, retry "
    "after that many seconds. Without it the reference can never match.", always=False)}


@orders.get("/orders/<uuid:order_id>")
@orders.output(OrderOut)
@orders.doc(summary="An order with lines, total and status history",
            responses=responses(_LAGGING_404, UNAVAILABLE))
@allow(CALLER)
def get_order(order_id: uuid.UUID) -> Any:
    """One order of the caller's (any order for support), from the reader."""
    set_order_id(order_id)
    return order_queries.get_order(dependencies().storage.reads, order_id, caller())


@orders.get("/orders")
@orders.input(OrderListQuery, location="query", arg_name="query")
@orders.output(OrderPage)
@orders.doc(summary="Orders, newest first, keyset-paginated",
            description="A customer lists their own orders (naming another customer gives an "
                        "empty page); support lists anyone's.",
            responses=responses(UNAVAILABLE))
@allow(CALLER)
def list_orders(query: dict[str, Any]) -> Any:
    """A page of the orders the caller may read, filtered by customer and/or status."""
    status = query.get("status")
    filters = order_queries.OrderFilters(customer_id=query.get("customer_id"),
                                         status=status.value if status else None)
    return order_queries.list_orders(dependencies().storage.reads, filters, caller(),
                                     limit=query["limit"], cursor=query.get("cursor"))


def _cache() -> Cache | None:
    cache: Cache | None = current_app.extensions.get(CACHE_EXTENSION)
    return cache


@products.get("/products/<ref>")
@products.output(ProductOut, headers=CacheStatusHeader,
                 description=f"The product. {CACHED_STOCK}")
@products.doc(summary="A product by id or by sku", description=CACHED_STOCK,
              responses=responses(_LAGGING_404, UNAVAILABLE))
@allow(PUBLIC)
def get_product(ref: str) -> Any:
    """One product, from the product cache or the reader."""
    product, status = product_cache.get_product(dependencies().storage.reads, _cache(), ref)
    return product, 200, {"Cache-Status": status.header}


@products.get("/products")
@products.input(ProductListQuery, location="query", arg_name="query")
@products.output(ProductPage, headers=CacheStatusHeader,
                 description=f"A page of products. {CACHED_STOCK}")
@products.doc(summary="Products in SKU order, keyset-paginated", description=CACHED_STOCK,
              responses=responses(UNAVAILABLE))
@allow(PUBLIC)
def list_products(query: dict[str, Any]) -> Any:
    """A page of the catalogue, from the product cache or the reader."""
    page, status = product_cache.list_products(dependencies().storage.reads, _cache(),
                                               limit=query["limit"], cursor=query.get("cursor"))
    return page, 200, {"Cache-Status": status.header}
