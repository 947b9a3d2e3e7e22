"""Catalogue administration on the writer: create products and restock, each with an event."""

from __future__ import annotations

from order_platform import topology
from order_platform.domain.catalog import MAX_STOCK, ProductRef, RestockMode
from order_platform.domain.errors import ProductNotFound, SkuAlreadyExists, StockOutOfRange
from order_platform.service_layer.unit_of_work import Row, UnitOfWork


def create_product(uow: UnitOfWork, *, sku: str, name: str, price_cents: int,
                   stock: int) -> Row:
    """Add a product and stage ProductCreated; raise SkuAlreadyExists on a taken SKU."""
    with uow:
        product = uow.products.add(sku=sku, name=name, price_cents=price_cents, stock=stock)
        if product is None:
            raise SkuAlreadyExists(sku)
        uow.outbox.add(topology.PRODUCT_CREATED, {
            "product_id": str(product["id"]), "sku": sku, "name": name,
            "price_cents": price_cents, "stock": stock,
        })
        uow.commit()
    return product


def restock(uow: UnitOfWork, ref_text: str, mode: RestockMode, quantity: int) -> Row:
    """Set or add stock of the product named by id or SKU, atomically; stage ProductRestocked.

    Concurrent restocks never lose an update, and stock never passes ``MAX_STOCK``
    (``Products.restock``).
    """
    ref = ProductRef.parse(ref_text)
    if ref is None:
        raise ProductNotFound(ref_text, malformed=True)
    with uow:
        product = uow.products.restock(ref, mode, quantity)
        if product is None:
            existing = uow.products.stock_of(ref)
            if existing is None:
                raise ProductNotFound(ref_text)
            product_id, stock = existing
            raise StockOutOfRange(str(product_id), stock, quantity, MAX_STOCK)
        uow.outbox.add(topology.PRODUCT_RESTOCKED, {
            "product_id": str(product["id"]), "sku": product["sku"], "mode": mode.value,
            "quantity": quantity, "stock": product["stock"],
        })
        uow.commit()
    return product
