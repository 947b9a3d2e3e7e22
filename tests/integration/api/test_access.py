"""Who may call what, declared once per route: the OpenAPI documents say what the hook enforces,
and an API whose route declares nobody does not start."""

from __future__ import annotations

import pytest
from apiflask import APIBlueprint

from order_platform.entrypoints.web.app import create_api
from order_platform.entrypoints.web.auth import PUBLIC, allow
from order_platform.processes import READ_API
from tests.support.tokens import bearer, client_with

SECURED = {("write", "/orders", "post"): None, ("write", "/products", "post"): "admin",
           ("write", "/products/{ref}/stock", "post"): "admin",
           ("read", "/orders", "get"): None, ("read", "/orders/{order_id}", "get"): None}
PUBLIC_READS = [("/products", "get"), ("/products/{ref}", "get"), ("/healthz", "get"),
                ("/readyz", "get")]


def test_the_documents_declare_the_bearer_scheme_where_a_token_is_needed(write_client,
                                                                         read_client):
    specs = {"write": write_client.get("/openapi.json").json,
             "read": read_client.get("/openapi.json").json}
    for spec in specs.values():
        assert spec["components"]["securitySchemes"] == {"BearerAuth": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": spec["components"]["securitySchemes"]["BearerAuth"]["description"]}}
    for (api, path, method), role in SECURED.items():
        operation = specs[api]["paths"][path][method]
        assert operation["security"] == [{"BearerAuth": []}], (api, path)
        assert "401" in operation["responses"], (api, path)
        assert ("403" in operation["responses"]) == (role is not None), (api, path)
    for path, method in PUBLIC_READS:
        operation = specs["read"]["paths"][path][method]
        assert "security" not in operation and "401" not in operation["responses"], path


def test_a_token_is_checked_before_the_body(write_app, read_app, settings):
    anonymous = write_app.test_client()
    for body in (b"{", b'{"items": []}'):  # malformed, invalid: still 401 first
        refused = anonymous.post("/orders", data=body, content_type="application/json")
        assert (refused.status_code, refused.json["error"]["code"]) == (401, "missing_token")
    # Another scheme than Bearer is no token either; the query string is never read.
    reads = read_app.test_client()
    token = bearer(settings, "c-1")["Authorization"].removeprefix("Bearer ")
    for kwargs in ({"headers": {"Authorization": "Basic YTpi"}},
                   {"query_string": {"access_token": token}}):
        assert reads.get("/orders", **kwargs).status_code == 401
    assert client_with(read_app, bearer(settings, "c-1")).get("/orders").status_code == 200


def test_an_api_with_an_undeclared_route_does_not_start(settings):
    careless = APIBlueprint("careless", __name__)

    @careless.get("/secrets")
    def secrets() -> dict:
        return {}

    @careless.get("/open")
    @allow(PUBLIC)
    def open_route() -> dict:
        return {}

    with pytest.raises(TypeError, match=r"careless\.secrets"):
        create_api(__name__, process=READ_API, title="t", description="d",
                   blueprints=[careless], settings=settings,
                   database=object())  # never used: the check comes first


def test_location_follows_a_tls_edge(settings, make_product):
    import dataclasses

    from order_platform.entrypoints.write_api.app import create_app

    edge = "https://api.example.org:3001"
    app = create_app(dataclasses.replace(settings, read_api_url=edge))
    try:
        placed = client_with(app, bearer(settings, "c-tls")).post("/orders", json={
            "items": [{"sku": make_product()["sku"], "quantity": 1}]})
        assert placed.status_code == 202, placed.json
        assert placed.headers["Location"] == f"{edge}/orders/{placed.json['id']}"
    finally:
        app.extensions["order_platform"].database.close()
