"""The database's copies in a second region (``infra/components/backup.py``)."""

from __future__ import annotations

from collections.abc import Iterator

from cost import assumptions as assume
from cost.context import Context
from cost.lines import Line
from cost.rules import rule
from infra.simulation import SimulatedResource


@rule("aws:backup/plan:Plan")
def _copies(r: SimulatedResource, c: Context) -> Iterator[Line]:
    gb, region = c.traffic.database_gb, c.config.db_backup_copy_region
    for plan_rule in r.inputs["rules"]:
        for copy in plan_rule.get("copyActions", []):
            kept = int(copy["lifecycle"]["deleteAfter"])
            yield c.line(r, f"{kept} daily snapshot copies kept in {region} (full copies)",
                         kept * gb, "GB-month", f"rds:aurora-copy-gb-month:{region}")
            yield c.line(r, f"a snapshot a day copied to {region}",
                         assume.DAYS_PER_MONTH * gb, "GB",
                         f"transfer:inter-region-gb:{region}")
