"""Price every resource a simulated stack registers: one line per billed item, and the total.

Each AWS or Kubernetes type the program creates is either priced by a rule (``cost.rules``) or
listed there as free of direct charge; an unknown type stops the estimate, so a new kind of
resource cannot go uncounted.
"""

from __future__ import annotations

from cost.context import Context
from cost.lines import Estimate
from cost.prices import PriceTable
from cost.rules import FREE, NOT_RESOURCES, RULES, UnpricedResourceError
from infra.config import StackConfig
from infra.simulation import StackRun


def estimate(run: StackRun, config: StackConfig, prices: PriceTable) -> Estimate:
    """Every billed line of ``run``; raises on a type with neither a rule nor a place in FREE."""
    unknown = sorted({r.type for r in run.resources
                      if r.type not in RULES and r.type not in FREE
                      and not r.type.startswith(NOT_RESOURCES)})
    if unknown:
        raise UnpricedResourceError(f"no pricing rule for {unknown}: add one to cost/rules/ "
                                    "(or list the type in FREE if it costs nothing itself)")
    context = Context(run, config, prices)
    lines = [line for r in sorted(run.resources, key=lambda r: r.name) if r.type in RULES
             for line in RULES[r.type](r, context)]
    return Estimate(stack=run.stack, prefix=config.prefix, lines=lines, prices=prices,
                    orders_per_second=config.orders_per_second)
