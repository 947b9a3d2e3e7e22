"""The policy config file (``--policy-pack-config``), reconciled the way the Pulumi CLI does.

Schema defaults first, then ``all``, then the policy's own entry; the result is what the
engine's ``Configure`` call hands the pack (numbers as floats, after protobuf).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi_policy import EnforcementLevel, Policy

LEVELS = {level.value: level for level in EnforcementLevel}


@dataclass(frozen=True)
class PolicySettings:
    """What the engine's ``Configure`` call tells the pack about one policy."""

    level: EnforcementLevel
    config: Mapping[str, Any]


class PolicyConfigError(ValueError):
    """The policy config file names a policy, level or setting the pack does not have."""


def load_policy_config(path: Path) -> dict[str, Any]:
    """Read a ``--policy-pack-config`` JSON file."""
    with path.open(encoding="utf-8") as handle:
        raw = json.load(handle)
    if not isinstance(raw, dict):
        raise PolicyConfigError(f"{path}: expected a JSON object keyed by policy name")
    return raw


def _level(value: Any, where: str) -> EnforcementLevel:
    if value not in LEVELS:
        raise PolicyConfigError(
            f"{where}: enforcement level {value!r} is not one of {list(LEVELS)}"
        )
    return LEVELS[value]


def resolve_settings(
    policies: Sequence[Policy], raw: Mapping[str, Any], default: EnforcementLevel
) -> dict[str, PolicySettings]:
    """Per-policy level and config from a policy config file, reconciled as the CLI does."""
    names = {p.name for p in policies}
    unknown = sorted(set(raw) - names - {"all"})
    if unknown:
        raise PolicyConfigError(f"policy config names unknown policies: {', '.join(unknown)}")
    every = raw.get("all")
    every_level = every.get("enforcementLevel") if isinstance(every, Mapping) else every
    settings = {}
    for policy in policies:
        entry = raw.get(policy.name, {})
        entry = {"enforcementLevel": entry} if isinstance(entry, str) else dict(entry)
        level = entry.pop("enforcementLevel", None) or every_level
        schema = policy.config_schema.properties if policy.config_schema else {}
        extra = sorted(set(entry) - set(schema))
        if extra:
            raise PolicyConfigError(f"{policy.name}: unknown setting(s) {', '.join(extra)}")
        config = {k: spec["default"] for k, spec in schema.items() if "default" in spec}
        config.update(entry)
        settings[policy.name] = PolicySettings(
            level=_level(level, policy.name) if level else policy.enforcement_level or default,
            config=json_format.MessageToDict(_struct(config)),
        )
    return settings


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(dict(value))
    return struct
