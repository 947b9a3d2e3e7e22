"""Cache-aside for the catalogue reads, and eviction when the catalogue changes.

Reads: look in the cache; on a miss, one request (the holder of a short fill lock) reads the
reader and fills the entry with a TTL, while the others wait a few milliseconds for that fill
and then read the reader themselves without filling. Any cache failure reads the reader. The
cache never decides anything: it only spares the reader, and a sale is decided by the
writer's conditional decrement alone.

Eviction: the worker's product-cache consumer deletes a changed product's entries (by id and by
SKU), bumps the list pages' generation, and marks the product "changed" for a few seconds,
during which fills are kept only briefly (see ``CHANGED_WINDOW_MS``).

Keys, all under ``NAMESPACE`` (a new layout takes a new version, so it never reads old ones):

- ``product:id:<uuid>``, ``product:sku:<sku>``: a product, read by id or by SKU;
- ``products:gen``: the list pages' generation, a counter;
- ``products:g<gen>:<limit>:<after>``: a list page; a new generation is a new namespace, so
  old pages are never read again and simply expire (no scan, no delete);
- ``changed:product:<uuid>``, ``changed:products``: set by an eviction, see below;
- ``lock:<key>``: the fill lock of ``<key>``.
"""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

import orjson

from order_platform import topology
from order_platform.domain.catalog import ProductRef
from order_platform.domain.errors import ProductNotFound
from order_platform.service_layer import pagination, product_queries
from order_platform.service_layer.order_queries import Page
from order_platform.service_layer.ports import Cache, CacheUnavailable, PoisonMessage
from order_platform.service_layer.read_model import ReadModel

T = TypeVar("T")

NAMESPACE = "op:v1:"
TTL_MS = 60_000
"""How long an entry lives: the bound on staleness when an eviction cannot land (the cache
was unreachable from the worker) or the reader lagged longer than ``CHANGED_WINDOW_MS``."""
TTL_JITTER = 0.1
"""Each fill takes up to 10% off the TTL, so entries filled together do not expire together."""
CHANGED_WINDOW_MS = 5_000
"""After an eviction, fills of that product (and of list pages) are kept only
``SETTLING_TTL_MS`` for this long. The eviction runs once the change is committed on the
writer, but the reader that answers the next miss may not have replayed it yet: without this,
its old row would be cached for a whole TTL. Aurora's replica lag is milliseconds, so five
seconds covers it with a wide margin."""
SETTLING_TTL_MS = 1_000
"""A fill during the changed window lives this long: at worst a lagging reader's row is
served for one second, and a hot product is still read from the reader at most once a second."""
FILL_LOCK_MS = 2_000
"""The fill lock expires on its own if its holder dies; the next miss then takes it."""
FILL_WAIT_SECONDS = 0.05
FILL_POLL_SECONDS = 0.005
"""A request that finds another filling waits up to 50 ms (a reader query takes a few), looking
every 5 ms, then reads the reader itself without filling: no unbounded wait."""


CACHE_NAME = "order-platform-cache"
"""The cache's name in ``Cache-Status``."""


class CacheStatus(StrEnum):
    """What the cache did for one read; sent as the ``Cache-Status`` header (RFC 9211)."""

    HIT = "hit"
    STORED = "fwd=miss; stored"
    """A miss; this request read the reader and filled the entry."""
    MISS = "fwd=miss"
    """A miss another request was filling, not there in time: read from the reader."""
    BYPASS = "fwd=bypass"
    """No cache configured, or it is down (or its breaker is open): read from the reader."""

    @property
    def header(self) -> str:
        """The ``Cache-Status`` value."""
        return f"{CACHE_NAME}; {self.value}"


# -- keys ---------------------------------------------------------------------------------
def product_key(ref: ProductRef) -> str:
    """The entry of a product read by id or by SKU."""
    if ref.product_id is not None:
        return f"{NAMESPACE}product:id:{ref.product_id}"
    return f"{NAMESPACE}product:sku:{ref.sku}"


def changed_marker(product_id: str | uuid.UUID) -> str:
    """Present for ``CHANGED_WINDOW_MS`` after the product's entries were evicted."""
    return f"{NAMESPACE}changed:product:{product_id}"


LIST_GENERATION = f"{NAMESPACE}products:gen"
LIST_CHANGED = f"{NAMESPACE}changed:products"


def list_key(generation: int, limit: int, after: str | None) -> str:
    """The entry of one list page in one generation."""
    return f"{NAMESPACE}products:g{generation}:{limit}:{after or ''}"


def lock_key(key: str) -> str:
    """The fill lock of ``key``."""
    return f"{NAMESPACE}lock:{key.removeprefix(NAMESPACE)}"


def ttl_ms(rand: Callable[[], float] = random.random) -> int:
    """A full TTL, less up to ``TTL_JITTER`` of it."""
    return int(TTL_MS * (1 - TTL_JITTER * rand()))


# -- values -------------------------------------------------------------------------------
def encode_product(product: dict[str, Any]) -> bytes:
    """A product row as stored (uuid and timestamps as ISO text)."""
    return orjson.dumps(product)


def decode_product(raw: bytes) -> dict[str, Any]:
    """A stored product, with the types the reader returns."""
    return _typed(orjson.loads(raw))


def _typed(product: dict[str, Any]) -> dict[str, Any]:
    product["id"] = uuid.UUID(product["id"])
    product["created_at"] = datetime.fromisoformat(product["created_at"])
    product["updated_at"] = datetime.fromisoformat(product["updated_at"])
    return product


def encode_page(page: Page) -> bytes:
    """A list page as stored."""
    return orjson.dumps({"items": page.items, "next_cursor": page.next_cursor})


def decode_page(raw: bytes) -> Page:
    """A stored list page."""
    body = orjson.loads(raw)
    return Page(items=[_typed(p) for p in body["items"]],
                next_cursor=body["next_cursor"])


# -- reads --------------------------------------------------------------------------------
def get_product(reads: ReadModel, cache: Cache | None, ref_text: str,
                *, wait_seconds: float = FILL_WAIT_SECONDS) -> tuple[dict[str, Any], CacheStatus]:
    """The product named by id or SKU, from the cache or the reader; ProductNotFound as the
    reader says (a product that is not there is not cached: it may be created any moment)."""
    ref = ProductRef.parse(ref_text)
    if ref is None:
        raise ProductNotFound(ref_text, malformed=True)

    def load() -> dict[str, Any]:
        return product_queries.get_product(reads, ref_text)

    if cache is None:
        return load(), CacheStatus.BYPASS
    return read_through(cache, product_key(ref), load, encode=encode_product,
                        decode=decode_product, marker=lambda p: changed_marker(p["id"]),
                        wait_seconds=wait_seconds)


def list_products(reads: ReadModel, cache: Cache | None, *, limit: int,
                  cursor: pagination.Cursor | None = None,
                  wait_seconds: float = FILL_WAIT_SECONDS) -> tuple[Page, CacheStatus]:
    """A page of the catalogue, from the cache (in the current generation) or the reader."""
    def load() -> Page:
        return product_queries.list_products(reads, limit=limit, cursor=cursor)

    if cache is None:
        return load(), CacheStatus.BYPASS
    try:
        generation = int(cache.get(LIST_GENERATION) or 0)
    except CacheUnavailable:
        return load(), CacheStatus.BYPASS
    key = list_key(generation, limit, str(cursor.after) if cursor else None)
    return read_through(cache, key, load, encode=encode_page, decode=decode_page,
                        marker=lambda page: LIST_CHANGED, wait_seconds=wait_seconds)


def read_through(cache: Cache, key: str, load: Callable[[], T], *,
                 encode: Callable[[T], bytes], decode: Callable[[bytes], T],
                 marker: Callable[[T], str],
                 wait_seconds: float = FILL_WAIT_SECONDS) -> tuple[T, CacheStatus]:
    """Cache-aside with one filler per key: ``load`` is the reader, called at most once here.

    ``marker`` names the changed marker that decides the TTL of a fill (see ``_FILL`` in the
    adapter). An error of ``load`` (not found, reader down) propagates, after the lock is
    released, and nothing is cached.
    """
    try:
        raw = cache.get(key)
        if raw is not None:
            return decode(raw), CacheStatus.HIT
        token = cache.acquire(lock_key(key), FILL_LOCK_MS)
    except CacheUnavailable:
        return load(), CacheStatus.BYPASS
    if token is None:
        raw = _wait_for_fill(cache, key, wait_seconds)
        if raw is not None:
            return decode(raw), CacheStatus.HIT
        return load(), CacheStatus.MISS
    try:
        value = load()
        try:
            cache.fill(key, encode(value), ttl_ms=ttl_ms(), changed_marker=marker(value),
                       settling_ttl_ms=SETTLING_TTL_MS)
        except CacheUnavailable:
            return value, CacheStatus.BYPASS
        return value, CacheStatus.STORED
    finally:
        # If the cache is gone, the lock expires on its own within FILL_LOCK_MS.
        with contextlib.suppress(CacheUnavailable):
            cache.release(lock_key(key), token)


def _wait_for_fill(cache: Cache, key: str, wait_seconds: float) -> bytes | None:
    """The entry another request is filling, if it arrives within ``wait_seconds``."""
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        time.sleep(FILL_POLL_SECONDS)
        try:
            raw = cache.get(key)
        except CacheUnavailable:
            return None
        if raw is not None:
            return raw
    return None


# -- eviction (the worker's product-cache consumer) -----------------------------------------
class Eviction(StrEnum):
    """What the product-cache consumer did with one event."""

    EVICTED = "EVICTED"
    NO_CACHE = "NO_CACHE"
    """The stack has no cache (``CACHE_URL`` unset): acknowledged without effect."""


def changed_products(detail_type: str, detail: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(product id, SKU or None) of every product an event changed; PoisonMessage if the
    detail does not say."""
    if detail_type == topology.INVENTORY_UPDATED.name:
        lines = detail.get("lines")
        if not isinstance(lines, list) or not lines:
            raise PoisonMessage("detail.lines must be a non-empty list")
        entries = lines
    elif detail_type in (topology.PRODUCT_CREATED.name, topology.PRODUCT_RESTOCKED.name):
        entries = [detail]
    else:
        raise PoisonMessage(f"{detail_type} does not change the catalogue")
    changed = []
    for entry in entries:
        product_id = entry.get("product_id") if isinstance(entry, dict) else None
        try:
            uuid.UUID(str(product_id))
        except ValueError:
            raise PoisonMessage(f"not a product id: {product_id!r}") from None
        sku = entry.get("sku")
        changed.append((str(product_id), sku if isinstance(sku, str) and sku else None))
    return changed


def evict_for_event(cache: Cache | None, detail_type: str, detail: dict[str, Any]) -> Eviction:
    """Evict what a catalogue event changed: the products' entries by id and by SKU, and every
    list page (by a new generation). CacheUnavailable when the cache does not answer.

    Idempotent, so it needs no dedupe row (and no database): evicting twice, or late, or out
    of order only costs a miss.
    """
    if cache is None:
        return Eviction.NO_CACHE
    products = changed_products(detail_type, detail)
    keys = [product_key(ProductRef(product_id=uuid.UUID(pid))) for pid, _ in products]
    keys += [product_key(ProductRef(sku=sku)) for _, sku in products if sku]
    cache.evict(keys, markers=[*(changed_marker(pid) for pid, _ in products), LIST_CHANGED],
                marker_ttl_ms=CHANGED_WINDOW_MS, generations=[LIST_GENERATION])
    return Eviction.EVICTED
