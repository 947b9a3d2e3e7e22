"""Prometheus samples and the arithmetic on two scrapes of them: totals, counter increases,
and quantiles from histogram buckets, as PromQL's ``increase`` and ``histogram_quantile`` do."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

from prometheus_client.parser import text_string_to_metric_families

Labels = tuple[tuple[str, str], ...]
Samples = Mapping[tuple[str, Labels], float]
"""One scrape: every sample by (sample name, sorted labels)."""


def parse(text: str) -> dict[tuple[str, Labels], float]:
    """The samples of a Prometheus text exposition."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples}


def series(samples: Samples, name: str, **match: str) -> Iterator[tuple[Labels, float]]:
    """The samples called ``name`` whose labels include ``match``."""
    for (sample_name, labels), value in samples.items():
        if sample_name == name and all((k, v) in labels for k, v in match.items()):
            yield labels, value


def total(samples: Samples, name: str, **match: str) -> float | None:
    """The sum of the matching samples; None when there is none (not exposed)."""
    values = [value for _, value in series(samples, name, **match)]
    return sum(values) if values else None


def _grown(value: float, before: float) -> float:
    # A series that went down was reset (its process restarted): all of its value is new.
    return value - before if value >= before else value


def increase(new: Samples, old: Samples, name: str, **match: str) -> float:
    """How much the matching counters grew from ``old`` to ``new``."""
    return sum(_grown(value, old.get((name, labels), 0.0))
               for labels, value in series(new, name, **match))


def bucket_increase(new: Samples, old: Samples, name: str, **match: str) -> dict[float, float]:
    """Per upper bound, how much the matching histograms' cumulative buckets grew (``name``
    is the histogram's; its ``_bucket`` samples are read), summed over their series."""
    grown: dict[float, float] = {}
    for labels, value in series(new, f"{name}_bucket", **match):
        le = float(dict(labels)["le"])
        grown[le] = grown.get(le, 0.0) + _grown(value, old.get((f"{name}_bucket", labels), 0.0))
    return grown


def quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """The ``q`` quantile of cumulative bucket counts, interpolated linearly inside its bucket
    as ``histogram_quantile`` does; None when nothing was observed. In the +Inf bucket the
    answer is the highest finite bound: all that the buckets can tell."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for upper in bounds:
        count = buckets[upper]
        if count >= rank:
            if math.isinf(upper):
                return lower
            if count == below:
                return upper
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return lower
