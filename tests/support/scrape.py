"""Reading a process's /metrics the way Prometheus does, for tests that assert on deltas."""

from __future__ import annotations

from collections.abc import Mapping

import requests
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition, by (sample name, labels)."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(base_url: str) -> Samples:
    """GET ``base_url``/metrics and parse it."""
    response = requests.get(f"{base_url}/metrics", timeout=10)
    response.raise_for_status()
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels`` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much ``name`` (with ``labels``) moved between two scrapes."""
    return value(after, name, **labels) - value(before, name, **labels)


def labels_of(samples: Mapping[tuple[str, frozenset], float], name: str) -> list[dict]:
    """The label sets present for ``name``."""
    return [dict(ls) for (n, ls) in samples if n == name]
