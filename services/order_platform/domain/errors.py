"""Domain errors: named failures the entrypoints turn into responses.

Each carries a stable machine ``code``, a human ``message`` and JSON-able ``details``.
They know nothing of HTTP; ``entrypoints.web.errors`` maps each class to a status.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request that the domain refuses, with a stable code."""

    code = "domain_error"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = {} if details is None else details


class UnknownProducts(DomainError):
    """Some order items name products that do not exist."""

    code = "unknown_products"

    def __init__(self, refs: list[dict[str, str]]) -> None:
        names = ", ".join(next(iter(r.values())) for r in refs)
        super().__init__(f"unknown products: {names}", {"unknown_products": refs})


class DuplicateProductLines(DomainError):
    """Two order items name the same product (by id, by sku, or one of each)."""

    code = "duplicate_product_lines"

    def __init__(self, product_ids: list[str]) -> None:
        super().__init__(
            "each product may appear on one line only; send one line with the total quantity",
            {"duplicate_product_ids": product_ids},
        )


class IdempotencyKeyReused(DomainError):
    """The Idempotency-Key was already used with a different request body."""

    code = "idempotency_key_reused"

    def __init__(self, key: str, order_id: str) -> None:
        super().__init__(
            "this Idempotency-Key was used with a different request body",
            {"idempotency_key": key, "order_id": order_id},
        )


class SkuAlreadyExists(DomainError):
    """A product with this SKU exists already."""

    code = "sku_exists"

    def __init__(self, sku: str) -> None:
        super().__init__(f"a product with sku {sku!r} exists already", {"sku": sku})


class StockOutOfRange(DomainError):
    """A restock would take stock beyond what the catalogue can hold."""

    code = "stock_out_of_range"

    def __init__(self, product_id: str, current: int, quantity: int, maximum: int) -> None:
        super().__init__(
            f"adding {quantity} to stock {current} would exceed {maximum}",
            {"product_id": product_id, "stock": current, "quantity": quantity,
             "max_stock": maximum},
        )


class NotFound(DomainError):
    """Base for lookups that found nothing (perhaps not yet, on a lagging reader): ``ref`` is
    what was looked for, under ``key`` in the details."""

    code = "not_found"
    may_appear = True
    """False when the reference can never match (malformed), so retrying is pointless."""

    def __init__(self, ref: str, key: str, *, malformed: bool = False) -> None:
        super().__init__(f"{key.removesuffix('_id')} {ref} not found", {key: ref})
        self.may_appear = not malformed


class OrderNotFound(NotFound):
    """No order with this id (yet: the reader may lag the writer)."""

    code = "order_not_found"

    def __init__(self, order_id: str) -> None:
        super().__init__(order_id, "order_id")


class ProductNotFound(NotFound):
    """No product with this id or sku."""

    code = "product_not_found"

    def __init__(self, ref: str, *, malformed: bool = False) -> None:
        super().__init__(ref, "product", malformed=malformed)
