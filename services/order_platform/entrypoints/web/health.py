"""Liveness and readiness, for the kubelet and the load balancer."""

from __future__ import annotations

import logging
from typing import Any

import psycopg2
from apiflask import APIBlueprint

from order_platform.adapters.credentials import CredentialsError
from order_platform.entrypoints.web.dependencies import dependencies
from order_platform.entrypoints.web.draining import draining
from order_platform.entrypoints.web.errors import error_body

log = logging.getLogger(__name__)

health = APIBlueprint("health", __name__, tag="health")


@health.get("/healthz")
@health.doc(summary="Liveness: the process serves HTTP. Touches no dependency.")
def healthz() -> dict[str, str]:
    """Liveness."""
    return {"status": "ok"}


@health.get("/readyz")
@health.doc(summary="Readiness: this API's database endpoint answers and it is not draining.",
            responses=[200, 503])
def readyz() -> Any:
    """Readiness: 503 while the database does not answer, and once the pod drains."""
    if draining():
        return error_body("draining", "This API is shutting down: send requests elsewhere."), 503
    try:
        dependencies().database.ping()
    except (psycopg2.Error, CredentialsError) as exc:
        log.warning("not ready: %s", exc)
        return error_body("not_ready", "The database does not answer.",
                          {"endpoint": dependencies().database.host}), 503
    return {"status": "ready"}
