"""gunicorn's logger without its access line: the app writes a richer one itself."""

from __future__ import annotations

from gunicorn.glogging import Logger


class NoAccessLog(Logger):
    """gunicorn.glogging.Logger that never builds nor writes an access line."""

    def access(self, resp, req, environ, request_time) -> None:
        """The app logs every request (``order_platform.access``), with its ids."""

    @property
    def access_log_enabled(self) -> bool:
        """Tells gunicorn's protocol handlers not to gather access data at all."""
        return False
