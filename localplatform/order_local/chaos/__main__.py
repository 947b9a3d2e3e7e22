"""`make chaos`: every fault scenario against a local platform of its own, on free ports.

    python -m order_local.chaos                       # every scenario, full length
    python -m order_local.chaos --short               # the two `make test` runs
    python -m order_local.chaos --scenario kill-worker --scenario flash-sale

One line per scenario: acknowledged orders, then what must be zero (lost, in a DLQ,
duplicated, oversold, 5xx other than 503) and how long the platform took to settle after
the fault ended. Exits 1 when any invariant broke.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from order_local.chaos.load import Tally
from order_local.chaos.platform import ChaosPlatform
from order_local.chaos.scenarios import SCENARIOS, SHORT, Run
from order_local.chaos.verify import Result, dead_letters, verify
from order_local.machine import DEFAULT_SYSTEM_USER


def run_scenarios(names: list[str], *, base_dir: Path, short: bool, outage_seconds: float,
                  seed: int, pg_system_user: str = DEFAULT_SYSTEM_USER,
                  echo=print) -> list[Result]:
    """Start a platform, run each scenario in turn, verify it; stop the platform."""
    chosen = [s for s in SCENARIOS if s.name in names]
    rng = random.Random(seed)
    platform = ChaosPlatform(base_dir, pg_system_user=pg_system_user).start()
    results = []
    try:
        for scenario in chosen:
            before = dead_letters(platform)
            run = Run(platform, short, outage_seconds, rng)
            started = time.monotonic()
            try:
                scenario.run(run)
            except Exception as exc:  # the run goes on; this scenario fails, saying why
                result = Result(scenario.name, notes=[f"harness: {type(exc).__name__}: {exc}"])
                results.append(result)
                echo(result.line())
                continue
            finally:
                tally = run.load.stop() if run.load else Tally()
            result = verify(platform, scenario.name, tally, run.stock,
                            fault_over_at=run.fault_over_at or started,
                            dead_letters_before=before)
            results.append(result)
            echo(result.line())
    finally:
        platform.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios; exit 1 when an invariant broke."""
    parser = argparse.ArgumentParser(prog="order-local chaos", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--scenario", action="append", dest="names",
                        choices=[s.name for s in SCENARIOS], help="repeatable; default: all")
    parser.add_argument("--short", action="store_true",
                        help=f"shorter faults, and only {', '.join(SHORT)} unless named")
    parser.add_argument("--outage-seconds", type=float, default=None,
                        help="how long the writer stays away (default: 60, short: 15)")
    parser.add_argument("--seed", type=int, default=None, help="for the random moments")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    names = args.names or (list(SHORT) if args.short else [s.name for s in SCENARIOS])
    outage = args.outage_seconds or (15.0 if args.short else 60.0)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"chaos: {len(names)} scenario(s), seed {seed}, writer outage {outage:g}s",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="order-chaos-") as tmp:
        results = run_scenarios(names, base_dir=Path(tmp), short=args.short,
                                outage_seconds=outage, seed=seed,
                                echo=lambda line: print(line, flush=True))
    if args.json:
        args.json.write_text(json.dumps([{**r.__dict__, "ok": r.ok} for r in results],
                                        indent=2, default=str))
    broken = [r.scenario for r in results if not r.ok]
    print(f"chaos: {len(results) - len(broken)}/{len(results)} scenarios held every invariant"
          + (f"; broken: {', '.join(broken)}" if broken else ""), flush=True)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
