"""The catalogue and its stock on the writer, on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from order_platform.adapters.session import Session
from order_platform.domain.catalog import MAX_STOCK, ProductRef, RestockMode
from order_platform.domain.orders import CatalogEntry, OrderItem
from order_platform.domain.stock import Shortage, shortages_in
from order_platform.service_layer.unit_of_work import Products, Row

# The statements, named: bench/bare_app.py and bench/bare_worker.py run these same ones.
COLUMNS = "id, sku, name, price_cents, stock, created_at, updated_at"
CATALOGUE = ("SELECT id, sku, price_cents FROM products "
             "WHERE id = ANY(%s::uuid[]) OR sku = ANY(%s::text[])")
ADD = ("INSERT INTO products (sku, name, price_cents, stock) VALUES (%s, %s, %s, %s) "
       f"ON CONFLICT (sku) DO NOTHING RETURNING {COLUMNS}")
# ``add`` is ``stock = stock + n`` in SQL, so concurrent restocks never lose an update; stock
# cannot go negative because quantities are never negative, and the table's CHECK backs that.
SET_STOCK = "UPDATE products SET stock = %s, updated_at = now() WHERE {where} RETURNING " + COLUMNS
ADD_STOCK = ("UPDATE products SET stock = stock + %s, updated_at = now() "
             "WHERE {where} AND stock::bigint + %s <= %s RETURNING " + COLUMNS)
STOCK_OF = "SELECT id, stock FROM products WHERE {where}"
STOCK = "SELECT id::text AS id, sku, stock FROM products WHERE id = ANY(%s::uuid[])"
DEDUCT = ("UPDATE products SET stock = stock - %s, updated_at = now() "
          "WHERE id = %s AND stock >= %s")
LOCK_PRODUCTS = ("SELECT id FROM products WHERE id = ANY(%s::uuid[]) ORDER BY id "
                 "FOR NO KEY UPDATE")


def find_shortages(session: Session, wanted: dict[str, int]) -> list[Shortage]:
    """Compare ``wanted`` with the stock ``session`` sees (no locks); products in id order."""
    rows = session.execute(STOCK, (list(wanted),)).all()
    return shortages_in(wanted, {row["id"]: (row["stock"], row["sku"]) for row in rows})


def _where(ref: ProductRef) -> tuple[str, object]:
    return ("id = %s", ref.product_id) if ref.product_id else ("sku = %s", ref.sku)


class SqlProducts(Products):
    """The ``products`` table, in one session's transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def catalogue_for(self, items: Sequence[OrderItem]) -> list[CatalogEntry]:
        """See ``Products.catalogue_for``."""
        ids = [i.product_id for i in items if i.product_id is not None]
        skus = [i.sku for i in items if i.sku is not None]
        return [CatalogEntry(product_id=r["id"], sku=r["sku"], price_cents=r["price_cents"])
                for r in self._session.execute(CATALOGUE, (ids, skus)).all()]

    def add(self, *, sku: str, name: str, price_cents: int, stock: int) -> Row | None:
        """See ``Products.add``."""
        return self._session.execute(ADD, (sku, name, price_cents, stock)).one()

    def restock(self, ref: ProductRef, mode: RestockMode, quantity: int) -> Row | None:
        """See ``Products.restock``."""
        where, key = _where(ref)
        if mode is RestockMode.SET:
            return self._session.execute(SET_STOCK.format(where=where), (quantity, key)).one()
        return self._session.execute(ADD_STOCK.format(where=where),
                                     (quantity, key, quantity, MAX_STOCK)).one()

    def stock_of(self, ref: ProductRef) -> tuple[uuid.UUID, int] | None:
        """See ``Products.stock_of``."""
        where, key = _where(ref)
        row = self._session.execute(STOCK_OF.format(where=where), (key,)).one()
        return None if row is None else (row["id"], row["stock"])

    def shortages(self, wanted: dict[str, int]) -> list[Shortage]:
        """See ``Products.shortages``."""
        return find_shortages(self._session, wanted)

    def deduct(self, wanted: dict[str, int]) -> bool:
        """See ``Products.deduct``: conditional decrements inside a savepoint."""
        session = self._session
        if len(wanted) == 1:
            # One line is one conditional UPDATE: atomic by itself, so no savepoint, and one
            # row lock, so no lock order to keep.
            ((product_id, quantity),) = wanted.items()
            return session.execute(DEDUCT, (quantity, product_id, quantity)).rowcount == 1
        # One fixed lock order (product id) for every order: two orders that share
        # products queue behind each other instead of deadlocking. FOR NO KEY UPDATE, not
        # FOR UPDATE: new order lines reference these rows (their foreign key takes FOR KEY
        # SHARE), so a worker stalled here must not stop order intake for these products.
        session.execute(LOCK_PRODUCTS, (list(wanted),))
        session.execute("SAVEPOINT deduct")
        short = False
        for product_id in sorted(wanted):
            quantity = wanted[product_id]
            if session.execute(DEDUCT, (quantity, product_id, quantity)).rowcount != 1:
                short = True
                break
        # All or nothing: undo the lines that did fit.
        session.execute("ROLLBACK TO SAVEPOINT deduct" if short else "RELEASE SAVEPOINT deduct")
        return not short
