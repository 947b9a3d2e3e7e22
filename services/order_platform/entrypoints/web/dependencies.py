"""What a running API holds, and how a request reaches it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import Flask, current_app
from werkzeug.local import LocalProxy

from order_platform.adapters.db import Database
from order_platform.bootstrap import Storage
from order_platform.config import Settings
from order_platform.domain.access import TokenVerifier

EXTENSION_KEY = "order_platform"


@dataclass(frozen=True)
class ApiDependencies:
    """What a running API holds: its settings, its one pool and the persistence port on it,
    and who vouches for its callers."""

    settings: Settings
    storage: Storage
    verifier: TokenVerifier

    @property
    def database(self) -> Database:
        """The API's pool (its readiness pings it)."""
        return self.storage.database


def dependencies(app: Flask | None = None) -> ApiDependencies:
    """``app``'s dependencies; the current app's by default (inside a request or app context)."""
    if app is None:
        # The app itself, not its proxy (werkzeug's documented way): an attribute read
        # through a proxy raises and catches an AttributeError first.
        app = cast("LocalProxy[Flask]", current_app)._get_current_object()
    return cast(ApiDependencies, app.extensions[EXTENSION_KEY])
