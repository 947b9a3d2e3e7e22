"""Property-based fuzzing of both APIs from their own /openapi.json (schemathesis).

Every operation of each document gets its own test. Schemathesis generates requests
the document calls valid and requests it calls invalid (examples, coverage and
fuzzing phases), sends them in-process to the app on the session's real PostgreSQL,
and runs all of its checks on every response: no 5xx, status codes, content types,
headers and bodies as documented, invalid input refused with 4xx, valid input not
refused with 400/422. A failure prints the curl command that reproduces it.

The seed and ``derandomize`` make the run identical each time; deadlines are off
because timing is not what this test checks.
"""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation

from order_platform.config import load_settings
from order_platform.domain.orders import MAX_LINES, OrderItem
from order_platform.entrypoints.read_api.app import create_app as create_read_app
from order_platform.entrypoints.write_api.app import create_app as create_write_app
from order_platform.service_layer import orders as order_service
from order_platform.service_layer import pagination
from order_platform.service_layer import products as product_service
from order_platform.service_layer.order_queries import OrderFilters
from order_platform.service_layer.product_queries import PRODUCT_LIST_SCOPE
from tests.unit.test_api_config_errors import VALID as DOCUMENT_ONLY

FUZZ_CONFIG = {"seed": 20240601, "generation": {"max-examples": 40, "mode": "all"}}
FUZZ_SETTINGS = hypothesis_settings(deadline=None, derandomize=True, database=None,
                                    suppress_health_check=list(HealthCheck))


def _schema(factory):
    # Settings only to render the document at collection time; nothing connects to
    # them. The requests go to the session's apps on the real database.
    app = factory(load_settings(DOCUMENT_ONLY))
    config = schemathesis.Config.from_dict(FUZZ_CONFIG)
    return schemathesis.openapi.from_wsgi("/openapi.json", app, config=config)


write_schema = _schema(create_write_app)
read_schema = _schema(create_read_app)


@pytest.fixture(scope="module")
def fuzz_catalogue(write_app) -> list[dict]:
    """One product for each line an order may have, so valid orders can name real ones."""
    storage = write_app.extensions["order_platform"].storage
    run = uuid.uuid4().hex[:8]
    return [product_service.create_product(storage.unit_of_work(), sku=f"FZ-{run}-{n}",
                                           name=f"Fuzz {n}", price_cents=100 + n, stock=1000)
            for n in range(MAX_LINES)]


@pytest.fixture(scope="module")
def fuzz_order_id(write_app, fuzz_catalogue) -> str:
    """An order that exists, for the read API's GET /orders/{order_id}."""
    placed = order_service.place_order(
        write_app.extensions["order_platform"].storage.unit_of_work(), "fuzz-customer",
        [OrderItem(quantity=2, sku=fuzz_catalogue[0]["sku"])])
    return str(placed.receipt.order_id)


def _is_positive(case, location: ParameterLocation) -> bool:
    """Whether this part of the request was generated as valid (examples name no parts)."""
    if case.meta is None:
        return False
    component = case.meta.components.get(location)
    mode = component.mode if component is not None else case.meta.generation.mode
    return mode is GenerationMode.POSITIVE


def _naming_real_products(case, catalogue: list[dict]) -> None:
    """Point a valid order's lines at distinct existing products, by id or by SKU as given.

    Otherwise every schema-valid order names made-up products and is rightly refused
    with 422 unknown_products, and the 202 path would never be fuzzed.
    """
    if case.path != "/orders" or not _is_positive(case, ParameterLocation.BODY):
        return
    for item, product in zip(case.body["items"], catalogue, strict=False):
        if "product_id" in item:
            item["product_id"] = str(product["id"])
        else:
            item["sku"] = product["sku"]


def _sometimes_an_existing_order(case, order_id: str) -> None:
    """Point half the valid order ids at a real order, so 200 bodies are checked too."""
    if case.path != "/orders/{order_id}" or not _is_positive(case, ParameterLocation.PATH):
        return
    generated = str(case.path_parameters.get("order_id", ""))
    if generated[-1:] in set("02468ace"):  # deterministic: the generator is seeded
        case.path_parameters["order_id"] = order_id


def _with_an_issued_cursor(case) -> None:
    """Swap a schema-valid but made-up cursor for one the API issues for these filters.

    A cursor is opaque: no JSON schema can say which strings the API issued, so a
    random one is rightly refused with 422. Negative cases keep their junk cursors.
    """
    query = case.query or {}
    if "cursor" not in query or not _is_positive(case, ParameterLocation.QUERY):
        return
    if case.path == "/orders":
        scope = OrderFilters(customer_id=query.get("customer_id"),
                             status=query.get("status")).scope()
        cursor = pagination.Cursor(kind="orders", after=2**40, scope=scope)
    else:
        cursor = pagination.Cursor(kind="products", after="M", scope=PRODUCT_LIST_SCOPE)
    query["cursor"] = pagination.encode(cursor)


@write_schema.parametrize()
@FUZZ_SETTINGS
def test_write_api_keeps_its_documented_contract(case, write_app, fuzz_catalogue):
    _naming_real_products(case, fuzz_catalogue)
    case.call_and_validate(app=write_app)


@read_schema.parametrize()
@FUZZ_SETTINGS
def test_read_api_keeps_its_documented_contract(case, read_app, fuzz_order_id):
    _sometimes_an_existing_order(case, fuzz_order_id)
    _with_an_issued_cursor(case)
    case.call_and_validate(app=read_app)
