"""Catalogue reads on the reader endpoint."""

from __future__ import annotations

from order_platform.domain.catalog import ProductRef
from order_platform.domain.errors import ProductNotFound
from order_platform.service_layer import pagination
from order_platform.service_layer.order_queries import Page
from order_platform.service_layer.read_model import ReadModel, Row

PRODUCT_LIST_SCOPE = pagination.scope_of()
"""The product list has no filters; its cursors all carry this scope."""


def get_product(reads: ReadModel, ref_text: str) -> Row:
    """The product named by id or SKU; ProductNotFound when there is none (or not yet)."""
    ref = ProductRef.parse(ref_text)
    if ref is None:  # neither a uuid nor a possible SKU: no need to ask the database
        raise ProductNotFound(ref_text, malformed=True)
    product = reads.product(ref)
    if product is None:
        raise ProductNotFound(ref_text)
    return product


def list_products(reads: ReadModel, *, limit: int,
                  cursor: pagination.Cursor | None = None) -> Page:
    """Products in SKU order, keyset on the unique SKU."""
    rows = reads.products(limit=limit + 1, after_sku=None if cursor is None else str(cursor.after))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = pagination.encode(
            pagination.Cursor(kind="products", after=rows[-1]["sku"], scope=PRODUCT_LIST_SCOPE))
    return Page(items=rows, next_cursor=next_cursor)
