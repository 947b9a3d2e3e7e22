"""What an estimate is made of: billed lines, and their sum for a stack."""

from __future__ import annotations

from dataclasses import dataclass

from cost.prices import PriceTable


@dataclass(frozen=True)
class Line:
    """One billed item of one resource for a month."""

    resource: str
    """The resource's logical name (``order-platform-prod-writer``)."""
    item: str
    quantity: float
    unit: str
    unit_price: float
    price_key: str = ""
    """The table's key (``ec2:instance-hour:m6i.large``)."""

    @property
    def kind(self) -> str:
        """What is billed, whatever the variant (``ec2:instance-hour``): how diffs pair lines."""
        return ":".join(self.price_key.split(":")[:2])

    @property
    def monthly(self) -> float:
        """What the item costs in a month, in the table's currency."""
        return self.quantity * self.unit_price


@dataclass
class Estimate:
    """A stack's monthly estimate: its lines, what it assumed and where the prices came from."""

    stack: str
    prefix: str
    """``order-platform-<stack>``: resource names without it pair across stacks."""
    lines: list[Line]
    prices: PriceTable
    orders_per_second: int

    @property
    def total(self) -> float:
        """The sum of every line."""
        return sum(line.monthly for line in self.lines)

    def by_resource(self) -> dict[str, float]:
        """Monthly cost per resource, largest first."""
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.resource] = totals.get(line.resource, 0.0) + line.monthly
        return dict(sorted(totals.items(), key=lambda item: -item[1]))
