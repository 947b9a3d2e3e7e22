"""docs/observability.md lists every metric of the catalogue, and nothing that is not in it."""

from __future__ import annotations

import re
from pathlib import Path

from order_platform import telemetry

DOC = Path(__file__).resolve().parents[2] / "docs" / "observability.md"


def test_the_metrics_table_is_the_catalogue():
    rows = re.findall(r"^\| `([a-z_]+)` \| (counter|gauge|histogram) \|", DOC.read_text(),
                      flags=re.MULTILINE)
    documented = {f"{telemetry.NAMESPACE}_{name}": kind for name, kind in rows}
    assert documented == {m.name: m.kind.value for m in telemetry.METRICS.values()}
