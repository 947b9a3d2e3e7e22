"""Database credentials from Secrets Manager, fetched by ARN and cached."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any


class CredentialsError(Exception):
    """The secret could not be fetched or does not hold a username and password."""


@dataclass(frozen=True)
class DbCredentials:
    """A username and password for PostgreSQL."""

    username: str
    password: str


class SecretsManagerCredentials:
    """Caches the secret; ``refresh()`` fetches it again after the password rotated."""

    def __init__(self, secrets_client: Any, secret_arn: str) -> None:
        self._client = secrets_client
        self._arn = secret_arn
        self._lock = threading.Lock()
        self._cached: DbCredentials | None = None

    def current(self) -> DbCredentials:
        """The cached credentials, fetched on first use."""
        with self._lock:
            if self._cached is None:
                self._cached = self._fetch()
            return self._cached

    def refresh(self) -> DbCredentials:
        """Drop the cache and fetch again (the managed password rotates)."""
        with self._lock:
            self._cached = self._fetch()
            return self._cached

    def _fetch(self) -> DbCredentials:
        try:
            raw = self._client.get_secret_value(SecretId=self._arn)["SecretString"]
            body = json.loads(raw)
            return DbCredentials(username=body["username"], password=body["password"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CredentialsError(f"secret {self._arn} lacks username/password") from exc
        except Exception as exc:  # botocore errors: name the secret, keep the cause
            raise CredentialsError(f"cannot fetch secret {self._arn}: {exc}") from exc
