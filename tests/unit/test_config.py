"""The config contract: typed, validated, and every problem named."""

import pytest

from order_platform.config import CONTRACT, ConfigError, load_settings

VALID = {
    "DB_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf",
    "DB_WRITER_ENDPOINT": "writer.example",
    "DB_READER_ENDPOINT": "reader.example",
    "DB_NAME": "orders",
    "EVENT_BUS_NAME": "order-platform-dev-orders",
    "STOCK_VALIDATION_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/q1",
    "INVENTORY_UPDATE_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/q2",
    "PRODUCT_CACHE_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/q3",
    "AWS_REGION": "eu-west-1",
    "AUTH_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc",
    "AUTH_JWKS_URL": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json",
    "AUTH_AUDIENCES": "client-a, client-b",
}


def test_valid_environment_gives_typed_settings_with_defaults():
    settings = load_settings(VALID)
    assert settings.db_port == 5432
    assert settings.aws_endpoint_url is None
    assert settings.worker_concurrency == 4
    assert settings.queue_url("INVENTORY_UPDATE_QUEUE_URL") == VALID["INVENTORY_UPDATE_QUEUE_URL"]
    assert settings.auth_audiences == ("client-a", "client-b")
    assert settings.auth_audience_claim == "client_id"
    assert settings.db_ssl_root_cert == "/etc/ssl/certs/rds-global-bundle.pem"


def test_port_is_coerced_to_int():
    assert load_settings({**VALID, "DB_PORT": "6543"}).db_port == 6543


@pytest.mark.parametrize("missing", [s.env for s in CONTRACT if s.required])
def test_each_missing_required_setting_is_named(missing):
    env = {k: v for k, v in VALID.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        load_settings(env)


@pytest.mark.parametrize(("name", "value"), [
    ("DB_PORT", "not-a-port"),
    ("DB_PORT", "70000"),
    ("DB_SECRET_ARN", "plain-password"),
    ("STOCK_VALIDATION_QUEUE_URL", "queue-name-not-url"),
    ("AWS_ENDPOINT_URL", "localhost:4566"),
    ("WORKER_CONCURRENCY", "0"),
    ("AUTH_ISSUER", "cognito"),
    ("AUTH_AUDIENCES", " , "),
    ("AUTH_AUDIENCE_CLAIM", "azp"),
])
def test_malformed_settings_are_named_with_their_value(name, value):
    with pytest.raises(ConfigError) as err:
        load_settings({**VALID, name: value})
    assert name in str(err.value)
    assert value in str(err.value)


def test_all_problems_are_reported_at_once():
    with pytest.raises(ConfigError) as err:
        load_settings({**VALID, "DB_PORT": "x", "DB_NAME": ""})
    assert "DB_PORT" in str(err.value)
    assert "DB_NAME" in str(err.value)


def test_blank_value_counts_as_missing():
    with pytest.raises(ConfigError, match="EVENT_BUS_NAME is required"):
        load_settings({**VALID, "EVENT_BUS_NAME": "   "})


def test_worker_poll_wait_is_bounded_by_the_sqs_maximum():
    assert load_settings({**VALID, "WORKER_POLL_WAIT_SECONDS": "0"}).worker_poll_wait_seconds == 0
    assert load_settings(VALID).worker_poll_wait_seconds == 20
    with pytest.raises(ConfigError, match="WORKER_POLL_WAIT_SECONDS"):
        load_settings({**VALID, "WORKER_POLL_WAIT_SECONDS": "21"})


def test_the_database_ca_default_is_where_the_image_puts_the_pinned_rds_bundle():
    from pathlib import Path

    dockerfile = (Path(__file__).resolve().parents[2] / "services" / "Dockerfile").read_text()
    default = next(s.default for s in CONTRACT if s.env == "DB_SSL_ROOT_CERT")
    added = [line.split()[-1] for line in dockerfile.splitlines() if line.startswith("ADD ")]
    assert added == [default]
    assert f'"${{RDS_CA_BUNDLE_SHA256}}" {default}' in dockerfile  # checked before it is used
