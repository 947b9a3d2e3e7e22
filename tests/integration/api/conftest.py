"""Both APIs in-process, on the session's real PostgreSQL and moto, via Flask's test client."""

from __future__ import annotations

import uuid

import pytest


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
def write_client(write_app):
    """An HTTP client for the write API."""
    return write_app.test_client()


@pytest.fixture
def read_client(read_app):
    """An HTTP client for the read API."""
    return read_app.test_client()


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
def place_order(write_client):
    """Place an order through the write API; return the response."""

    def place(items, customer_id=None, headers=None):
        body = {"customer_id": customer_id or f"cust-{uuid.uuid4().hex[:8]}", "items": items}
        return write_client.post("/orders", json=body, headers=headers or {})

    return place
