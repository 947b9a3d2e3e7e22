"""The migrator: apply schema migrations to the writer (``order-platform migrate``; a
Kubernetes Job in the cloud)."""

from __future__ import annotations

import sys

from order_platform import bootstrap
from order_platform.adapters.schema import apply_migrations
from order_platform.processes import MIGRATE


def main() -> int:
    """Read the config contract, fetch credentials by ARN, migrate the writer."""
    runtime = bootstrap.start_or_exit(MIGRATE, pools={})
    settings = runtime.settings
    creds = runtime.credentials.current()
    applied = apply_migrations(host=settings.db_writer_endpoint, port=settings.db_port,
                               dbname=settings.db_name, user=creds.username,
                               password=creds.password,
                               ssl_root_cert=settings.db_ssl_root_cert)
    print(f"order-migrate: {len(applied)} migration(s) applied: {', '.join(applied) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
