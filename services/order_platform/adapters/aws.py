"""boto3 clients built from settings: the same code path on AWS and on the emulator."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from order_platform.config import Settings

# Standard retry mode retries throttling and 5xx with backoff; the relay and
# consumers add their own retry on top for longer outages.
_BOTO_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"},
                      connect_timeout=5, read_timeout=30)


def client(service: str, settings: Settings, **overrides: Any) -> Any:
    """A boto3 client for ``service``; ``AWS_ENDPOINT_URL`` is the only local difference."""
    kwargs: dict[str, Any] = {"region_name": settings.aws_region, "config": _BOTO_CONFIG}
    if settings.aws_endpoint_url:
        kwargs["endpoint_url"] = settings.aws_endpoint_url
    kwargs.update(overrides)
    return boto3.session.Session().client(service, **kwargs)
