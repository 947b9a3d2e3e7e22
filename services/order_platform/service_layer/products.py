"""Catalogue administration on the writer: create products and restock, each with an event."""

from __future__ import annotations

from typing import Any

from order_platform import topology
from order_platform.adapters import outbox
from order_platform.adapters.db import Database
from order_platform.domain.catalog import MAX_STOCK, ProductRef, RestockMode
from order_platform.domain.errors import ProductNotFound, SkuAlreadyExists, StockOutOfRange

_COLUMNS = "id, sku, name, price_cents, stock, created_at, updated_at"


def create_product(db: Database, *, sku: str, name: str, price_cents: int,
                   stock: int) -> dict[str, Any]:
    """Add a product and stage ProductCreated; raise SkuAlreadyExists on a taken SKU."""
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO products (sku, name, price_cents, stock) VALUES (%s, %s, %s, %s)"
            f" ON CONFLICT (sku) DO NOTHING RETURNING {_COLUMNS}",
            (sku, name, price_cents, stock),
        )
        product = cur.fetchone()
        if product is None:
            raise SkuAlreadyExists(sku)
        outbox.add_event(cur, topology.PRODUCT_CREATED, {
            "product_id": str(product["id"]), "sku": sku, "name": name,
            "price_cents": price_cents, "stock": stock,
        })
    return dict(product)


def restock(db: Database, ref_text: str, mode: RestockMode, quantity: int) -> dict[str, Any]:
    """Set or add stock of the product named by id or SKU, atomically; stage ProductRestocked.

    ``add`` is ``stock = stock + n`` in SQL, so concurrent restocks never lose an
    update; stock cannot go negative because quantities are never negative and the
    table's CHECK backs that up.
    """
    ref = ProductRef.parse(ref_text)
    if ref is None:
        raise ProductNotFound(ref_text, malformed=True)
    where, key = ("id = %s", ref.product_id) if ref.product_id else ("sku = %s", ref.sku)
    with db.transaction() as cur:
        if mode is RestockMode.SET:
            cur.execute(
                f"UPDATE products SET stock = %s, updated_at = now() WHERE {where}"
                f" RETURNING {_COLUMNS}",
                (quantity, key),
            )
        else:
            cur.execute(
                f"UPDATE products SET stock = stock + %s, updated_at = now()"
                f" WHERE {where} AND stock::bigint + %s <= %s RETURNING {_COLUMNS}",
                (quantity, key, quantity, MAX_STOCK),
            )
        product = cur.fetchone()
        if product is None:
            cur.execute(f"SELECT id, stock FROM products WHERE {where}", (key,))
            existing = cur.fetchone()
            if existing is None:
                raise ProductNotFound(ref_text)
            raise StockOutOfRange(str(existing["id"]), existing["stock"], quantity, MAX_STOCK)
        outbox.add_event(cur, topology.PRODUCT_RESTOCKED, {
            "product_id": str(product["id"]), "sku": product["sku"], "mode": mode.value,
            "quantity": quantity, "stock": product["stock"],
        })
    return dict(product)
