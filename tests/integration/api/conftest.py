"""Both APIs in-process, on the session's real PostgreSQL and moto, via Flask's test client."""

from __future__ import annotations

import uuid

import pytest

from tests.support.tokens import bearer, client_with


@pytest.fixture(scope="session")
def write_app(settings):
    """The write API on its own writer pool."""
    from order_platform.entrypoints.write_api.app import create_app

    app = create_app(settings)
    yield app
    app.extensions["order_platform"].database.close()


@pytest.fixture(scope="session")
def read_app(settings):
    """The read API on its own read-only reader pool."""
    from order_platform.entrypoints.read_api.app import create_app

    app = create_app(settings)
    yield app
    app.extensions["order_platform"].database.close()


@pytest.fixture
def write_client(write_app, settings):
    """An HTTP client for the write API, sending an admin's token (a request may send its
    own Authorization header instead)."""
    return client_with(write_app, bearer(settings, "admin-1", "admin"))


@pytest.fixture
def read_client(read_app, settings):
    """An HTTP client for the read API, sending a support token (it reads every order)."""
    return client_with(read_app, bearer(settings, "support-1", "support"))


def random_sku(prefix: str = "T") -> str:
    """A SKU no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_product(write_client):
    """Create a product through the write API; return its JSON."""

    def make(**overrides):
        body = {"sku": random_sku(), "name": "Test product", "price_cents": 1250, "stock": 50,
                **overrides}
        response = write_client.post("/products", json=body)
        assert response.status_code == 201, response.json
        return response.json

    return make


@pytest.fixture
def place_order(write_client, settings):
    """Place an order through the write API as ``customer_id`` (the token's subject; a new
    customer unless given); return the response."""

    def place(items, customer_id=None, headers=None):
        customer = customer_id or f"cust-{uuid.uuid4().hex[:8]}"
        return write_client.post("/orders", json={"items": items},
                                 headers={**bearer(settings, customer), **(headers or {})})

    return place
