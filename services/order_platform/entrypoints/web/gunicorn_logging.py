"""gunicorn's logger without its access line: the app writes a richer one itself."""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger


class NoAccessLog(Logger):  # type: ignore[misc]  # gunicorn has no types
    """gunicorn.glogging.Logger that never builds nor writes an access line."""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """The app logs every request (``order_platform.access``), with its ids."""

    @property
    def access_log_enabled(self) -> bool:
        """Tells gunicorn's protocol handlers not to gather access data at all."""
        return False
