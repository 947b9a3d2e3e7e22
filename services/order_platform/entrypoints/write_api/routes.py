"""Write API routes: parse, call one service function, shape the response."""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import request

from order_platform.entrypoints.web.dependencies import ApiDependencies, dependencies
from order_platform.entrypoints.web.fast_io import (
    Answer,
    answer,
    as_response,
    documented,
    uri_base,
    validated,
)
from order_platform.entrypoints.web.hot_routes import HotRoute, exact
from order_platform.entrypoints.web.openapi import UNAVAILABLE
from order_platform.entrypoints.web.requests import json_body, plain_json_body, set_order_id
from order_platform.entrypoints.web.schemas import ProductOut
from order_platform.entrypoints.write_api import orders_fast_path
from order_platform.entrypoints.write_api.schemas import (
    IDEMPOTENCY_HEADER,
    IdempotencyHeaders,
    OrderAccepted,
    OrderIn,
    ProductIn,
    RestockIn,
    idempotency_key,
)
from order_platform.service_layer import orders as order_service
from order_platform.service_layer import products as product_service

orders = APIBlueprint("orders", __name__, tag="orders")
products = APIBlueprint("products", __name__, tag="products")

_BODY_ERRORS = {400: "Malformed JSON", 413: "Body over 64 KiB",
                415: "Content-Type is not JSON", **UNAVAILABLE}


def _read_api(deps: ApiDependencies, path: str) -> str:
    """``path`` on the read API, as a URI (see ``fast_io.ApiResponse``)."""
    return uri_base(deps.settings.read_api_url) + path


_ORDER_IN, _HEADERS_IN, _ACCEPTED = OrderIn(), IdempotencyHeaders(), OrderAccepted()


_REPLAYED = (("Idempotent-Replayed", "true"),)
_IDEMPOTENCY_ENVIRON = "HTTP_" + IDEMPOTENCY_HEADER.upper().replace("-", "_")


def _place(deps: ApiDependencies, order: dict, key: str | None) -> Answer:
    placed = order_service.place_order(
        deps.database, order["customer_id"], order["items"], idempotency_key=key)
    order_ref = str(placed.receipt.order_id)
    set_order_id(order_ref)
    return answer(_ACCEPTED, placed.receipt, 202, _REPLAYED if placed.replayed else (),
                  location=_read_api(deps, f"/orders/{order_ref}"))


# The hottest route: documented by the decorators, validated and serialised by fast_io, and
# its plain requests answered by hot_routes (create_order_hot) with the same work.
@orders.post("/orders")
@documented(orders.input(IdempotencyHeaders, location="headers", validation=False))
@documented(orders.input(OrderIn, location="json", validation=False))
@documented(orders.output(
    OrderAccepted, status_code=202,
    description="Accepted as PENDING; Location is the order on the read API."))
@documented(orders.doc(summary="Place an order", responses={
    **_BODY_ERRORS, 409: "Idempotency-Key reused with a different body",
    422: "Invalid body, unknown products or duplicate product lines"}))
def create_order():
    """Validate, price from the catalogue, write order + history + OrderCreated atomically."""
    order = validated(_ORDER_IN, "json", json_body(), orders_fast_path.load)
    key = validated(_HEADERS_IN, "headers", request.headers.get(IDEMPOTENCY_HEADER),
                    idempotency_key).get("idempotency_key")
    return as_response(_place(dependencies(), order, key))


def create_order_hot(deps: ApiDependencies, environ: dict) -> Answer | None:
    """``create_order`` for a plain request; None, having done nothing, when unsure."""
    order = orders_fast_path.load(plain_json_body(environ))
    key = idempotency_key(environ.get(_IDEMPOTENCY_ENVIRON))
    if order is None or key is None:
        return None
    return _place(deps, order, key.get("idempotency_key"))


HOT_ROUTES = (HotRoute("POST", "/orders", exact("/orders"), create_order_hot),)


@products.post("/products")
@products.input(ProductIn, location="json", arg_name="product")
@products.output(ProductOut, status_code=201, description="Created; Location is on the read API.")
@products.doc(summary="Add a product", responses={**_BODY_ERRORS, 409: "SKU exists"})
def create_product(product):
    """Add a catalogue product and stage ProductCreated."""
    deps = dependencies()
    created = product_service.create_product(deps.database, **product)
    return created, 201, {"Location": _read_api(deps, f"/products/{created['id']}")}


@products.post("/products/<ref>/stock")
@products.input(RestockIn, location="json", arg_name="restock")
@products.output(ProductOut, description="The product with its new stock.")
@products.doc(summary="Set or add stock of a product (by id or sku)", responses={
    **_BODY_ERRORS, 404: "No such product",
    409: "Adding would take stock past the maximum (stock_out_of_range)",
    422: "Invalid body"})
def restock_product(ref, restock):
    """Set or add stock atomically and stage ProductRestocked."""
    return product_service.restock(dependencies().database, ref, restock["mode"],
                                   restock["quantity"])
