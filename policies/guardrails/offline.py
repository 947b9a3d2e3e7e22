"""`make policy [STACK=…]`, or ``python -m guardrails.offline``: the pack over each stack.

Each stack's program runs under Pulumi mocks (``infra.simulation``); every resource it
registers goes through the pack as the engine would send it (see ``guardrails.engine``), with
that stack's ``policies/config/<stack>.json`` deciding enforcement. The report groups
violations by resource; the exit status is 1 when any mandatory violation is found.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from pulumi_policy import EnforcementLevel

from guardrails.engine import Subject, Violation, engine_views, evaluate
from guardrails.pack import DEFAULT_ENFORCEMENT, PACK_NAME, POLICIES
from guardrails.policy_config import PolicySettings, load_policy_config, resolve_settings

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


def config_path(stack: str, config_dir: Path = CONFIG_DIR) -> Path:
    """The ``--policy-pack-config`` file for a stack."""
    return config_dir / f"{stack}.json"


def stack_settings(stack: str, config_dir: Path = CONFIG_DIR) -> dict[str, PolicySettings]:
    """Enforcement and thresholds for a stack; a stack without a file gets the pack defaults."""
    path = config_path(stack, config_dir)
    raw = load_policy_config(path) if path.exists() else {}
    return resolve_settings(POLICIES, raw, DEFAULT_ENFORCEMENT)


def subjects_of(run) -> list[Subject]:
    """``infra.simulation`` resources as engine subjects."""
    return [
        Subject(
            type=r.type,
            name=r.name,
            urn=r.urn,
            inputs=r.inputs,
            outputs=r.outputs,
            parent=r.parent,
            provider=r.provider,
            dependencies=tuple(r.dependencies),
            id=r.id,
        )
        for r in run.resources
    ]


def default_providers(config: dict[str, str], project: str) -> dict[str, dict[str, str]]:
    """Default-provider props per package: the stack's ``<package>:<key>`` config, unprefixed."""
    providers: dict[str, dict[str, str]] = defaultdict(dict)
    for key, value in config.items():
        package, _, name = key.partition(":")
        if package != project and name:
            providers[package][name] = value
    return dict(providers)


def evaluate_run(run, settings: dict[str, PolicySettings], project: str) -> list[Violation]:
    """Every violation for one simulated stack run."""
    views = engine_views(subjects_of(run), default_providers(run.config, project))
    return evaluate(views, POLICIES, settings)


def render(stack: str, resource_count: int, violations: list[Violation], out: TextIO) -> None:
    """Print violations grouped by resource, like `pulumi preview`'s policy section."""
    mandatory = sum(v.level == EnforcementLevel.MANDATORY for v in violations)
    mark = "FAIL" if mandatory else "ok"
    print(
        f"[{mark}] stack {stack}: {resource_count} resources, {len(POLICIES)} policies "
        f"from {PACK_NAME}: {mandatory} mandatory, {len(violations) - mandatory} advisory "
        "violation(s)",
        file=out,
    )
    grouped: dict[str, list[Violation]] = defaultdict(list)
    for v in violations:
        grouped[v.urn].append(v)
    for urn, found in grouped.items():
        head = found[0]
        title = f"{head.resource_type}  {head.resource_name}" if urn else "(stack)"
        print(f"    {title}", file=out)
        if urn:
            print(f"      {urn}", file=out)
        for v in found:
            print(f"      - [{v.level.value}]  {v.policy}", file=out)
            print(f"        {v.description}", file=out)
            print(f"        {v.message}", file=out)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Evaluate the chosen stacks (all by default); 1 on any mandatory violation."""
    from infra.simulation import project_name, run_stack, stack_names

    parser = argparse.ArgumentParser(prog="make policy", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", action="append", help="a stack to check (repeatable)")
    parser.add_argument(
        "--config-dir",
        type=Path,
        default=CONFIG_DIR,
        help="directory of <stack>.json policy config files",
    )
    options = parser.parse_args(argv)
    stacks = options.stack or stack_names()
    unknown = sorted(set(stacks) - set(stack_names()))
    if unknown:
        parser.error(f"no Pulumi.<stack>.yaml for: {', '.join(unknown)}")
    failed = []
    for stack in stacks:
        settings = stack_settings(stack, options.config_dir)
        run = run_stack(stack)
        violations = evaluate_run(run, settings, project_name())
        render(stack, len(run.resources), violations, out)
        if any(v.level == EnforcementLevel.MANDATORY for v in violations):
            failed.append(stack)
    if failed:
        print(f"policy: mandatory violations in {', '.join(failed)}", file=out)
        return 1
    print(f"policy: {', '.join(stacks)} pass (no mandatory violations)", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
