"""Catalogue reads on the reader endpoint."""

from __future__ import annotations

from typing import Any

from order_platform.adapters.db import Database
from order_platform.domain.catalog import ProductRef
from order_platform.domain.errors import ProductNotFound
from order_platform.service_layer import pagination
from order_platform.service_layer.order_queries import Page

_COLUMNS = "id, sku, name, price_cents, stock, created_at, updated_at"
PRODUCT_LIST_SCOPE = pagination.scope_of()
"""The product list has no filters; its cursors all carry this scope."""


def get_product(db: Database, ref_text: str) -> dict[str, Any]:
    """The product named by id or SKU; ProductNotFound when there is none (or not yet)."""
    ref = ProductRef.parse(ref_text)
    if ref is None:  # neither a uuid nor a possible SKU: no need to ask the database
        raise ProductNotFound(ref_text, malformed=True)
    where, key = ("id = %s", ref.product_id) if ref.product_id else ("sku = %s", ref.sku)
    with db.statement() as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM products WHERE {where}", (key,))
        product = cur.fetchone()
    if product is None:
        raise ProductNotFound(ref_text)
    return dict(product)


def list_products(db: Database, *, limit: int,
                  cursor: pagination.Cursor | None = None) -> Page:
    """Products in SKU order, keyset on the unique SKU."""
    with db.statement() as cur:
        if cursor is None:
            cur.execute(f"SELECT {_COLUMNS} FROM products ORDER BY sku LIMIT %s", (limit + 1,))
        else:
            cur.execute(f"SELECT {_COLUMNS} FROM products WHERE sku > %s ORDER BY sku LIMIT %s",
                        (cursor.after, limit + 1))
        rows = [dict(r) for r in cur.fetchall()]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = pagination.encode(
            pagination.Cursor(kind="products", after=rows[-1]["sku"], scope=PRODUCT_LIST_SCOPE))
    return Page(items=rows, next_cursor=next_cursor)
