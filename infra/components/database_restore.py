"""A stack's Aurora cluster created from a backup (``dbRestore``): from a snapshot, or from
another cluster's continuous backups at a point in time (docs/operations.md, "Restoring the
database").

The restore inputs of ``aws.rds.Cluster`` are create-only, and the restored cluster gets a name
of its own, so setting ``dbRestore`` creates a new cluster beside the old one and moves the
stack (its endpoints, its secret, the pods' config) to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_RESTORE_NAME = re.compile(r"[a-z][a-z0-9-]{0,19}")
_UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_KEYS = frozenset({"name", "snapshot", "sourceCluster", "time"})


@dataclass(frozen=True)
class DatabaseRestore:
    """What a stack's cluster is created from instead of empty (``dbRestore``): a snapshot, or
    another cluster's backups at a point in time."""

    name: str
    """Names the new cluster ``<identifier>-<name>``: it is created beside the one it replaces."""
    snapshot: str = ""
    source_cluster: str = ""
    time: str = ""
    """UTC, RFC 3339 (``2026-12-01T09:30:00Z``), or ``latest``: the newest restorable moment."""

    unknown: tuple[str, ...] = ()
    """Keys of ``dbRestore`` that are none of the above (a typo must not go unnoticed)."""

    @classmethod
    def from_config(cls, raw: object) -> DatabaseRestore | None:
        """``dbRestore`` from the stack config; None when unset. ``problems()`` checks it."""
        if not raw:
            return None
        if not isinstance(raw, Mapping):
            return cls(name="", unknown=(f"{raw!r}: it must be an object",))
        return cls(name=str(raw.get("name", "")), snapshot=str(raw.get("snapshot", "")),
                   source_cluster=str(raw.get("sourceCluster", "")),
                   time=str(raw.get("time", "")),
                   unknown=tuple(sorted(set(raw) - _KEYS)))

    def problems(self) -> list[str]:
        """What makes this restore impossible, naming the ``dbRestore`` key."""
        problems = [f"dbRestore has no setting {key}" for key in self.unknown]
        if not _RESTORE_NAME.fullmatch(self.name):
            problems.append(f"dbRestore.name must be 1-20 lowercase letters, digits or hyphens, "
                            f"starting with a letter (it names the new cluster), not "
                            f"{self.name!r}")
        if bool(self.snapshot) == bool(self.source_cluster):
            problems.append("dbRestore needs exactly one of snapshot and sourceCluster")
        if self.source_cluster and self.time != "latest" and not _UTC_TIME.fullmatch(self.time):
            problems.append(f"dbRestore.time must be 'latest' or a UTC time like "
                            f"2026-12-01T09:30:00Z, not {self.time!r}")
        if self.snapshot and self.time:
            problems.append("dbRestore.time goes with sourceCluster, not with a snapshot")
        return problems

    def cluster_inputs(self) -> dict:
        """The create-only inputs of ``aws.rds.Cluster`` that make it a restore."""
        if self.snapshot:
            return {"snapshot_identifier": self.snapshot}
        when = ({"use_latest_restorable_time": True} if self.time == "latest"
                else {"restore_to_time": self.time})
        return {"restore_to_point_in_time": {"source_cluster_identifier": self.source_cluster,
                                             "restore_type": "full-copy", **when}}


def cluster_identifier(base: str, restore: DatabaseRestore | None) -> str:
    """``order-platform-prod-db``, or ``order-platform-prod-db-<name>`` for a restored cluster."""
    return f"{base}-{restore.name}" if restore else base
