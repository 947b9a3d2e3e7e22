"""guardrails.settings: one declaration gives a rule's config schema and its typed reading."""

from __future__ import annotations

from dataclasses import dataclass, fields

import pytest

from guardrails.pack import POLICIES
from guardrails.rules import resource_rule
from guardrails.settings import RuleSettings, config_key, setting
from tests.policies.engine_view import resource_args


@dataclass(frozen=True)
class Sample(RuleSettings):
    """One field of each kind the pack declares."""

    minimum_days: int = setting(7, "Fewest days.", minimum=1, maximum=35)
    require_final_snapshot: bool = setting(True, "Also a snapshot.")
    log_types: tuple[str, ...] = setting(("api", "audit"), "Logs.", choices=("api", "audit", "x"))
    allowed_ports: tuple[int, ...] = setting((3000,), "Ports.", minimum=0, maximum=65535)


def _seen(**config):
    """The settings a validator of a rule configured by ``Sample`` reads, via the engine."""
    read = []
    policy = resource_rule("sample-rule", "A rule for the test.", Sample)(
        lambda args, _report: read.append(Sample.read(args)))
    policy.validate(resource_args(policy, "aws:s3/bucket:Bucket", {}, **config), lambda *_: None)
    return read[0]


def test_the_schema_is_built_from_the_declaration():
    assert Sample.schema().properties == {
        "minimumDays": {"type": "integer", "minimum": 1, "maximum": 35, "default": 7,
                        "description": "Fewest days."},
        "requireFinalSnapshot": {"type": "boolean", "default": True,
                                 "description": "Also a snapshot."},
        "logTypes": {"type": "array", "items": {"type": "string", "enum": ["api", "audit", "x"]},
                     "default": ["api", "audit"], "description": "Logs."},
        "allowedPorts": {"type": "array",
                         "items": {"type": "integer", "minimum": 0, "maximum": 65535},
                         "default": [3000], "description": "Ports."},
    }
    assert Sample.schema().required is None


def test_a_validator_reads_the_defaults_the_cli_fills_in_as_typed_values():
    # The engine sends every number as a float; the settings come back as declared.
    assert _seen() == Sample()
    assert isinstance(_seen().minimum_days, int)
    assert _seen().allowed_ports == (3000,) and isinstance(_seen().allowed_ports[0], int)


def test_a_validator_reads_the_configured_values():
    seen = _seen(minimumDays=14, requireFinalSnapshot=False, logTypes=["audit"],
                 allowedPorts=[443, 3001])
    assert seen == Sample(minimum_days=14, require_final_snapshot=False, log_types=("audit",),
                          allowed_ports=(443, 3001))


def test_a_setting_left_out_of_the_config_reads_as_its_default():
    class NoConfig:
        def get_config(self):
            return {}

    assert Sample.read(NoConfig()) == Sample()


@pytest.mark.parametrize("policy", [p for p in POLICIES if p.config_schema],
                         ids=lambda p: p.name)
def test_every_configurable_rule_is_declared_by_settings(policy):
    # The schema of every configurable rule comes from a RuleSettings declaration: its keys are
    # the camelCase names of that declaration's fields.
    declarations = [c for c in _settings_classes() if c.schema().properties
                    == policy.config_schema.properties]
    assert declarations, f"{policy.name}: its config schema is not built from RuleSettings"
    keys = {config_key(f.name) for f in fields(declarations[0])}
    assert keys == set(policy.config_schema.properties)


def test_the_pack_has_fifteen_configurable_rules():
    assert len([p for p in POLICIES if p.config_schema]) == 15


def _settings_classes() -> list[type[RuleSettings]]:
    found, todo = [], list(RuleSettings.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found
