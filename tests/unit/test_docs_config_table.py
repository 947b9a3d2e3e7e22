"""The manual's config table (docs/configuration.md) says what CONTRACT says."""

from __future__ import annotations

import re
from pathlib import Path

from order_platform.config import CONTRACT

CONFIG_PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _rows() -> dict[str, list[str]]:
    text = CONFIG_PAGE.read_text()
    section = text[text.index("<!-- section:config -->"):text.index("<!-- /section:config -->")]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\| `([A-Z_]+)` \|(.*)\|\s*$", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


def test_every_contract_setting_is_in_the_table_and_nothing_else():
    assert set(_rows()) == {s.env for s in CONTRACT}


def test_required_default_and_origin_match_the_contract():
    rows = _rows()
    for setting in CONTRACT:
        required, default, from_infra, _meaning = rows[setting.env]
        assert required == ("yes" if setting.required else "no"), setting.env
        assert default == (f"`{setting.default}`" if setting.default is not None else ""), (
            setting.env)
        assert from_infra == ("yes" if setting.from_infra else "no"), setting.env
