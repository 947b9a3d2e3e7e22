"""`order-migrate`: apply schema migrations to the writer (a Kubernetes Job in the cloud)."""

from __future__ import annotations

import sys

from order_platform.adapters import aws
from order_platform.adapters.credentials import SecretsManagerCredentials
from order_platform.adapters.schema import apply_migrations
from order_platform.config import ConfigError, load_settings
from order_platform.logs import configure_logging


def main() -> int:
    """Read the config contract, fetch credentials by ARN, migrate the writer."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"order-migrate: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, service="migrate")
    creds = SecretsManagerCredentials(aws.client("secretsmanager", settings),
                                      settings.db_secret_arn).current()
    applied = apply_migrations(host=settings.db_writer_endpoint, port=settings.db_port,
                               dbname=settings.db_name, user=creds.username,
                               password=creds.password)
    print(f"order-migrate: {len(applied)} migration(s) applied: {', '.join(applied) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
