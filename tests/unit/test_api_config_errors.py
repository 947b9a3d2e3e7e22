"""A missing or malformed setting stops either API at creation, naming the setting."""

from __future__ import annotations

import pytest

from order_platform.config import CONTRACT, ConfigError
from order_platform.entrypoints.read_api.app import create_app as create_read_app
from order_platform.entrypoints.write_api.app import create_app as create_write_app

VALID = {
    "DB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:db",
    "DB_WRITER_ENDPOINT": "writer.local",
    "DB_READER_ENDPOINT": "reader.local",
    "DB_NAME": "orders",
    "EVENT_BUS_NAME": "bus",
    "STOCK_VALIDATION_QUEUE_URL": "http://127.0.0.1:1/q1",
    "INVENTORY_UPDATE_QUEUE_URL": "http://127.0.0.1:1/q2",
    "PRODUCT_CACHE_QUEUE_URL": "http://127.0.0.1:1/q3",
    "AWS_REGION": "us-east-1",
    "AUTH_ISSUER": "https://issuer.local/pool",
    "AUTH_JWKS_URL": "http://127.0.0.1:1/pool/.well-known/jwks.json",
    "AUTH_AUDIENCES": "client",
}


@pytest.fixture
def contract_env(monkeypatch):
    """An environment holding exactly VALID of the contract."""
    for setting in CONTRACT:
        monkeypatch.delenv(setting.env, raising=False)
    for name, value in VALID.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


@pytest.mark.parametrize("factory", [create_write_app, create_read_app])
@pytest.mark.parametrize("name", ["DB_SECRET_ARN", "DB_WRITER_ENDPOINT", "DB_NAME", "AWS_REGION"])
def test_a_missing_setting_is_named(contract_env, factory, name):
    contract_env.delenv(name)
    with pytest.raises(ConfigError, match=name):
        factory()


@pytest.mark.parametrize("factory", [create_write_app, create_read_app])
@pytest.mark.parametrize("name, value", [("DB_PORT", "five"), ("DB_PORT", "70000"),
                                         ("DB_SECRET_ARN", "my-secret"),
                                         ("READ_API_URL", "localhost:3001"),
                                         ("DB_POOL_MAX", "0")])
def test_a_malformed_setting_is_named(contract_env, factory, name, value):
    contract_env.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        factory()
