"""The estimate as text: a per-resource table with the total, and the difference of two."""

from __future__ import annotations

from collections.abc import Iterable

from cost import assumptions
from cost.lines import Estimate, Line


def _widths(lines: Iterable[Line]) -> tuple[int, int]:
    lines = list(lines)
    return (max((len(line.resource) for line in lines), default=8),
            max((len(line.item) for line in lines), default=4))


def _row(line: Line, name: int, item: int) -> str:
    return (f"{line.resource:<{name}} {line.item:<{item}} {line.quantity:>12,.2f} "
            f"{line.unit:<13} {line.unit_price:>10.4f} {line.monthly:>10,.2f}")


def table(estimate: Estimate) -> str:
    """Every line of the estimate, its total and what the three largest resources cost."""
    prices = estimate.prices
    name, item = _widths(estimate.lines)
    head = (f"{'resource':<{name}} {'item':<{item}} {'quantity':>12} {'unit':<13} "
            f"{'unit price':>10} {'per month':>10}")
    rows = [f"{estimate.stack}: monthly estimate in {prices.currency}, {prices.region} on-demand "
            f"prices of {prices.date}, {estimate.orders_per_second} orders/s", "", head]
    rows += [_row(line, name, item) for line in estimate.lines]
    largest = list(estimate.by_resource().items())[:3]
    rows += ["", f"{'total':<{len(head) - 10}}{estimate.total:>10,.2f}", "",
             "largest: " + ", ".join(f"{resource} {cost:,.2f}" for resource, cost in largest)]
    rows += _sources(estimate)
    return "\n".join(rows)


def _sources(estimate: Estimate) -> list[str]:
    return [f"prices: {estimate.prices.source}",
            f"assumptions: cost/assumptions.py ({assumptions.HOURS_PER_MONTH} h a month, volumes "
            "per order); pods and nodes from the capacity model at the stack's ordersPerSecond"]


def keyed(estimate: Estimate) -> dict[tuple[str, str], tuple[str, float]]:
    """``{(resource without the stack prefix, kind): (item, monthly)}``, as diffs pair lines."""
    found: dict[tuple[str, str], tuple[str, float]] = {}
    for line in estimate.lines:
        key = (line.resource.removeprefix(f"{estimate.prefix}-"), line.kind)
        _, monthly = found.get(key, ("", 0.0))
        found[key] = (line.item, monthly + line.monthly)
    return found


def changes(new: Estimate, old: Estimate) -> list[tuple[str, str, str, float, float]]:
    """(mark, resource, item, old, new) for each line added (+), removed (-) or changed (~)."""
    before, after = keyed(old), keyed(new)
    found = []
    for key in sorted(set(before) | set(after)):
        (old_item, was), (new_item, now) = before.get(key, ("", 0.0)), after.get(key, ("", 0.0))
        if key in before and key in after and abs(now - was) < 0.005:
            continue
        mark = "+" if key not in before else "-" if key not in after else "~"
        found.append((mark, key[0], new_item or old_item, was, now))
    return found


def difference(new: Estimate, old: Estimate, old_label: str) -> str:
    """What changes from ``old`` to ``new``, line by line, and the two totals."""
    found = changes(new, old)
    name = max((len(c[1]) for c in found), default=8)
    item = max((len(c[2]) for c in found), default=4)
    rows = [f"{new.stack} against {old_label}: monthly {new.prices.currency}", ""]
    for mark, resource, what, was, now in found:
        rows.append(f"{mark} {resource:<{name}} {what:<{item}} {was:>10,.2f} -> {now:>10,.2f}"
                    f"  ({now - was:+,.2f})")
    if len(rows) == 2:
        rows.append("  no line changes")
    change = new.total - old.total
    share = f", {change / old.total:+.1%}" if old.total else ""
    rows += ["", f"total: {old.total:,.2f} -> {new.total:,.2f} ({change:+,.2f}{share})"]
    return "\n".join(rows)
