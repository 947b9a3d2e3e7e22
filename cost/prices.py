"""The price table: one file with its region, currency, date and source."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

PRICES_FILE = Path(__file__).resolve().parent / "prices.json"


class MissingPriceError(KeyError):
    """The program uses something the table has no price for; the message says how to add it."""


@dataclass(frozen=True)
class PriceTable:
    """On-demand prices of one region, keyed ``service:item[:variant]`` (``cost.pricelist``)."""

    region: str
    currency: str
    date: str
    source: str
    prices: dict[str, float] = field(default_factory=dict)

    def __getitem__(self, key: str) -> float:
        if key not in self.prices:
            raise MissingPriceError(
                f"no price for {key!r} in {self.region} ({PRICES_FILE.name}): add it to "
                "cost.pricelist.QUERIES and regenerate the table (python -m cost.pricelist)")
        return self.prices[key]


def load_prices(path: Path = PRICES_FILE) -> PriceTable:
    """The price table in ``path``."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return PriceTable(region=raw["region"], currency=raw["currency"], date=raw["date"],
                      source=raw["source"],
                      prices={key: float(value) for key, value in raw["prices"].items()})
