"""/healthz, /readyz and /openapi.json on both APIs."""

from __future__ import annotations

import dataclasses
import re

import pytest

from order_platform.entrypoints.read_api.app import create_app as create_read_app
from order_platform.entrypoints.write_api.app import create_app as create_write_app
from tests.support.platform import free_port
from tests.support.tokens import bearer, client_with

FACTORIES = {"write": create_write_app, "read": create_read_app}


@pytest.mark.parametrize("api", FACTORIES)
def test_live_and_ready_with_a_database(api, write_client, read_client):
    client = write_client if api == "write" else read_client
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {"status": "ready"}


@pytest.mark.parametrize("api", FACTORIES)
def test_not_ready_without_a_database_but_still_live(api, settings):
    nowhere = dataclasses.replace(settings, db_port=free_port())  # nothing listens there
    app = FACTORIES[api](nowhere)
    client = client_with(app, bearer(settings, "admin-1", "admin"))
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["error"]["code"] == "not_ready"
    # A data request answers 503 JSON with Retry-After, not a 500.
    path = "/orders" if api == "read" else "/products/SKU-1/stock"
    data = client.get(path) if api == "read" else client.post(
        path, json={"mode": "add", "quantity": 1})
    assert data.status_code == 503
    assert data.json["error"]["code"] == "unavailable"
    assert data.headers["Retry-After"] == "5"
    app.extensions["order_platform"].database.close()


def test_each_api_publishes_its_openapi_document(write_client, read_client):
    write_spec = write_client.get("/openapi.json").json
    read_spec = read_client.get("/openapi.json").json
    assert write_spec["openapi"].startswith("3.")
    assert {"/orders", "/products", "/products/{ref}/stock", "/healthz", "/readyz"} <= set(
        write_spec["paths"])
    assert {"/orders", "/orders/{order_id}", "/products", "/products/{ref}"} <= set(
        read_spec["paths"])
    post_orders = write_spec["paths"]["/orders"]["post"]
    assert {"202", "400", "409", "413", "415", "422"} <= set(post_orders["responses"])
    assert post_orders["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"}
    assert any(p["name"] == "Idempotency-Key" for p in post_orders["parameters"])
    listed = {p["name"] for p in read_spec["paths"]["/orders"]["get"]["parameters"]}
    assert listed == {"customer_id", "status", "limit", "cursor"}


def test_the_documents_state_what_the_validators_enforce(write_client, read_client):
    write_spec = write_client.get("/openapi.json").json
    read_spec = read_client.get("/openapi.json").json
    schemas = write_spec["components"]["schemas"]
    assert schemas["OrderItemIn"]["oneOf"] == [{"required": ["product_id"]},
                                               {"required": ["sku"]}]
    assert {"mode": {"enum": ["add"]}, "quantity": {"minimum": 1}} in [
        branch["properties"] for branch in schemas["RestockIn"]["oneOf"]]
    assert schemas["ProductIn"]["properties"]["sku"]["pattern"].endswith(
        "[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    for spec in (write_spec, read_spec):
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                if "requestBody" in operation:  # a POST without a body is a 415
                    assert operation["requestBody"]["required"] is True, (method, path)
                if path in ("/healthz", "/readyz"):
                    continue
                unavailable = operation["responses"]["503"]  # timeouts, database down
                assert unavailable["headers"]["Retry-After"]["required"] is True, (method, path)
    lagging = read_spec["paths"]["/orders/{order_id}"]["get"]["responses"]["404"]
    assert lagging["headers"]["Retry-After"]["required"] is False  # only when it may appear


@pytest.mark.parametrize("api", FACTORIES)
def test_docs_work_offline_with_assets_served_by_the_api_itself(api, write_client, read_client):
    client = write_client if api == "write" else read_client
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # Nothing the page loads comes from another host: no CDN, no apiflask.com favicon.
    assert re.findall(r"(?:src|href)=\"(https?:)?//", html) == []
    assets = re.findall(r"(?:src|href)=\"(/docs/assets/[^\"]+)\"", html)
    assert {a.rsplit("/", 1)[-1] for a in assets} == {
        "swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
        "favicon-32x32.png"}
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.get_data()) > 500, asset
        response.close()
    assert "SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js").get_data(
        as_text=True)
