"""Order reads on the reader endpoint: one order with its lines and history, or a page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from order_platform.domain.access import Caller
from order_platform.domain.errors import OrderNotFound
from order_platform.service_layer import pagination
from order_platform.service_layer.read_model import ReadModel, Row


@dataclass(frozen=True)
class OrderFilters:
    """What a client may filter the order list by."""

    customer_id: str | None = None
    status: str | None = None

    def scope(self) -> str:
        """The fingerprint a cursor for this list carries."""
        return pagination.scope_of(customer_id=self.customer_id, status=self.status)


@dataclass(frozen=True)
class Page:
    """One page of a keyset-paginated list."""

    items: list[Row]
    next_cursor: str | None


def get_order(reads: ReadModel, order_id: uuid.UUID, reader: Caller) -> Row:
    """The order with lines, total and status history; OrderNotFound if the reader lacks it
    or ``reader`` may not read it (someone else's order is as missing as none: a 403 would
    tell a guesser that it exists)."""
    order = reads.order(order_id)
    if order is None or not reader.may_read_orders_of(order["customer_id"]):
        raise OrderNotFound(str(order_id))
    for line in order["lines"]:
        line["line_total_cents"] = line["quantity"] * line["unit_price_cents"]
    return order


def list_orders(reads: ReadModel, filters: OrderFilters, reader: Caller, *, limit: int,
                cursor: pagination.Cursor | None = None) -> Page:
    """Newest orders first, keyset on ``orders.seq``, of those ``reader`` may read: a
    customer's own (another customer's filter gives an empty page), anyone's for support.

    ``seq`` only grows, so orders inserted while a client pages through have a
    higher seq than its cursor and never shift or repeat the rows it has yet to see.
    """
    customer = filters.customer_id
    if customer is not None and not reader.may_read_orders_of(customer):
        return Page(items=[], next_cursor=None)
    if customer is None and not reader.may_read_orders_of(None):
        customer = reader.customer_id
    rows = reads.orders(customer_id=customer, status=filters.status,
                        limit=limit + 1, before_seq=None if cursor is None else int(cursor.after))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = pagination.encode(
            pagination.Cursor(kind="orders", after=rows[-1]["seq"], scope=filters.scope()))
    return Page(items=rows, next_cursor=next_cursor)
