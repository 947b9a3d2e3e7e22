"""Write API routes: parse, call one service function, shape the response."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint

from order_platform.domain.access import Role
from order_platform.entrypoints.web.auth import CALLER, allow, caller
from order_platform.entrypoints.web.dependencies import ApiDependencies, dependencies
from order_platform.entrypoints.web.openapi import UNAVAILABLE, responses
from order_platform.entrypoints.web.requests import set_order_id
from order_platform.entrypoints.web.schemas import ProductOut
from order_platform.entrypoints.write_api.schemas import (
    IdempotencyHeaders,
    OrderAccepted,
    OrderIn,
    ProductIn,
    RestockIn,
)
from order_platform.service_layer import orders as order_service
from order_platform.service_layer import products as product_service

orders = APIBlueprint("orders", __name__, tag="orders")
products = APIBlueprint("products", __name__, tag="products")

_BODY_ERRORS = responses({400: "Malformed JSON", 413: "Body over 64 KiB",
                          415: "Content-Type is not JSON"}, UNAVAILABLE)


def _read_api(deps: ApiDependencies, path: str) -> str:
    """``path`` on the read API, where the resource the write API created can be read."""
    return deps.settings.read_api_url.rstrip("/") + path


@orders.post("/orders")
@orders.input(IdempotencyHeaders, location="headers", arg_name="headers")
@orders.input(OrderIn, location="json", arg_name="order")
@orders.output(OrderAccepted, status_code=202,
               description="Accepted as PENDING; Location is the order on the read API.")
@orders.doc(summary="Place an order", responses=responses(_BODY_ERRORS, {
    409: "Idempotency-Key reused with a different body",
    422: "Invalid body, unknown products or duplicate product lines"}))
@allow(CALLER)
def create_order(headers: dict[str, Any], order: dict[str, Any]) -> Any:
    """Validate, price from the catalogue, write order + history + OrderCreated atomically,
    for the caller."""
    deps = dependencies()
    placed = order_service.place_order(deps.storage.unit_of_work(), caller().customer_id,
                                       order["items"], headers.get("idempotency_key"))
    order_ref = str(placed.receipt.order_id)
    set_order_id(order_ref)
    answer = {"Location": _read_api(deps, f"/orders/{order_ref}")}
    if placed.replayed:
        answer["Idempotent-Replayed"] = "true"
    return placed.receipt, 202, answer


@products.post("/products")
@products.input(ProductIn, location="json", arg_name="product")
@products.output(ProductOut, status_code=201, description="Created; Location is on the read API.")
@products.doc(summary="Add a product", responses=responses(_BODY_ERRORS, {409: "SKU exists"}))
@allow(Role.ADMIN)
def create_product(product: dict[str, Any]) -> Any:
    """Add a catalogue product and stage ProductCreated."""
    deps = dependencies()
    created = product_service.create_product(deps.storage.unit_of_work(), **product)
    return created, 201, {"Location": _read_api(deps, f"/products/{created['id']}")}


@products.post("/products/<ref>/stock")
@products.input(RestockIn, location="json", arg_name="restock")
@products.output(ProductOut, description="The product with its new stock.")
@products.doc(summary="Set or add stock of a product (by id or sku)", responses=responses(
    _BODY_ERRORS, {404: "No such product",
                   409: "Adding would take stock past the maximum (stock_out_of_range)",
                   422: "Invalid body"}))
@allow(Role.ADMIN)
def restock_product(ref: str, restock: dict[str, Any]) -> Any:
    """Set or add stock atomically and stage ProductRestocked."""
    return product_service.restock(dependencies().storage.unit_of_work(), ref,
                                   restock["mode"], restock["quantity"])
