"""Run checkov once over rendered stacks and hold its findings against ``accepted.yaml``."""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ACCEPTED = HERE / "accepted.yaml"
CHECKOV = Path(sys.prefix) / "checkov" / "bin" / "checkov"
"""``make install`` puts checkov in a venv of its own inside the project's (.venv/checkov)."""
FRAMEWORKS = ("kubernetes", "terraform_plan")


@dataclass(frozen=True)
class Finding:
    """One failed check on one resource of one stack."""

    stack: str
    framework: str
    check_id: str
    check_name: str
    resource: str
    """``aws_lb.order-platform-prod-api-nlb`` or ``Deployment.order-platform.write-api``."""


@dataclass(frozen=True)
class Acceptance:
    """A finding that is a choice: which check, where, and why."""

    check: str
    reason: str
    stacks: tuple[str, ...] = ()
    """Empty: every stack."""
    resources: tuple[str, ...] = ("*",)
    """Globs over the finding's resource address; any may match."""

    def covers(self, finding: Finding) -> bool:
        """True when this acceptance explains ``finding``."""
        return (finding.check_id == self.check
                and (not self.stacks or finding.stack in self.stacks)
                and any(fnmatch.fnmatchcase(finding.resource, glob) for glob in self.resources))


class CheckovError(RuntimeError):
    """checkov did not run, or did not report on every framework."""


def load_accepted(path: Path = ACCEPTED) -> list[Acceptance]:
    """The reviewed acceptances, in file order."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [Acceptance(check=e["check"], reason=e["reason"], stacks=tuple(e.get("stacks", ())),
                       resources=tuple(_as_list(e.get("resources", "*")))) for e in entries]


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def run_checkov(directory: Path, checkov: Path = CHECKOV) -> list[Finding]:
    """Every failed check of every framework over ``directory`` (one ``<stack>/`` per stack).

    One process for everything: checkov spends most of its time importing its checks.
    ``--skip-download`` and no API key keep it offline.
    """
    if not checkov.exists():
        raise CheckovError(f"{checkov} is missing: run `make install`")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "PRISMA_"))}
    result = subprocess.run(  # noqa: S603 - our own venv's checkov, fixed arguments
        [str(checkov), "--directory", str(directory), "--framework", *FRAMEWORKS,
         "--output", "json", "--quiet", "--compact", "--skip-download"],
        capture_output=True, text=True, timeout=600, check=False, env=env)
    if result.returncode not in (0, 1):  # 1 means "some check failed"
        raise CheckovError(f"checkov exited {result.returncode}: {result.stderr[-2000:]}")
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    seen = {report["check_type"] for report in reports}
    if seen != set(FRAMEWORKS) or any(r["summary"]["parsing_errors"] for r in reports):
        raise CheckovError(f"checkov reported {sorted(seen)}, parsing errors: "
                           f"{[r['summary']['parsing_errors'] for r in reports]}")
    return [Finding(stack=Path(check["file_path"]).parts[1], framework=report["check_type"],
                    check_id=check["check_id"], check_name=check["check_name"],
                    resource=check["resource"])
            for report in reports for check in report["results"].get("failed_checks", [])]


def unaccepted(findings: list[Finding], accepted: list[Acceptance]) -> list[Finding]:
    """Findings no acceptance explains: each must be fixed in the program or accepted."""
    return [f for f in findings if not any(a.covers(f) for a in accepted)]


def unused(findings: list[Finding], accepted: list[Acceptance]) -> list[Acceptance]:
    """Acceptances that explain nothing any more: the finding was fixed, so remove them."""
    return [a for a in accepted if not any(a.covers(f) for f in findings)]
