"""`make cost [STACK=prod] [COST_ARGS="--diff staging|<git ref>"]`: monthly estimates."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cost import report, sources
from cost.estimate import estimate
from cost.prices import load_prices
from infra.simulation import stack_names, typed_config


def estimate_of(run, prices):
    """The estimate of a simulated stack, with its config read as the program reads it."""
    return estimate(run, typed_config(run), prices)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the estimate of each stack (every stack by default), and its difference with
    another stack or a git ref."""
    parser = argparse.ArgumentParser(prog="python -m cost", description=__doc__)
    parser.add_argument("stacks", nargs="*", metavar="stack", help="dev, staging, prod (all)")
    parser.add_argument("--diff", metavar="STACK_OR_REF",
                        help="also show what changes against another stack or a git ref")
    options = parser.parse_args(argv)
    prices = load_prices()
    try:
        for index, stack in enumerate(options.stacks or stack_names()):
            run = sources.current(stack)
            current = estimate_of(run, prices)
            print(("\n\n" if index else "") + report.table(current))
            if options.diff:
                other = sources.with_traffic_of(sources.resolve(stack, options.diff), run)
                print()
                print(report.difference(current, estimate_of(other, prices), options.diff))
    except sources.SourceError as error:
        print(f"cost: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
