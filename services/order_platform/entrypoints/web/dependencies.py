"""What a running API holds, and how a request reaches it."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from order_platform.adapters.db import Database
from order_platform.config import Settings

EXTENSION_KEY = "order_platform"


@dataclass(frozen=True)
class ApiDependencies:
    """What a running API holds: its settings and its one pool."""

    settings: Settings
    database: Database


def dependencies() -> ApiDependencies:
    """The current app's dependencies (inside a request or app context)."""
    return current_app.extensions[EXTENSION_KEY]
