"""`make benchmarks`: checkov over every stack; each finding with its acceptance or NOT ACCEPTED."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from infra.benchmarks.render import write_stack
from infra.benchmarks.scan import load_accepted, run_checkov, unaccepted, unused
from infra.simulation import run_stack, stack_names


def main() -> int:
    """Print the findings of every stack; 1 if one is neither fixed nor accepted."""
    accepted = load_accepted()
    with tempfile.TemporaryDirectory() as directory:
        for stack in stack_names():
            write_stack(run_stack(stack), Path(directory))
        findings = run_checkov(Path(directory))
    for finding in sorted(findings, key=lambda f: (f.stack, f.check_id, f.resource)):
        reason = next((a.reason for a in accepted if a.covers(finding)), "NOT ACCEPTED")
        print(f"{finding.stack:8} {finding.check_id:12} {finding.resource}\n"
              f"{'':21} {finding.check_name}\n{'':21} -> {reason}")
    open_findings, stale = unaccepted(findings, accepted), unused(findings, accepted)
    print(f"benchmarks: {len(findings)} finding(s), {len(findings) - len(open_findings)} "
          f"accepted, {len(open_findings)} not accepted, {len(stale)} stale acceptance(s)")
    for acceptance in stale:
        print(f"  stale: {acceptance.check} {acceptance.stacks or 'all stacks'}: remove it")
    return 1 if open_findings or stale else 0


if __name__ == "__main__":
    sys.exit(main())
