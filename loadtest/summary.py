"""The end-of-run summary: locust's per-endpoint statistics and the orders' own settle times.

Pure: it reads the entries of locust's final ``--json-file`` (written at shutdown, so unlike
its CSV it misses no last second) and the settle record the locustfile writes, and computes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

TOTAL = "total"


@dataclass(frozen=True)
class Endpoint:
    """One method and route template, as locust measured it."""

    name: str
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Summary:
    """What a run measured."""

    seconds: float
    endpoints: tuple[Endpoint, ...]
    total: Endpoint
    placed: int
    settled: dict[str, int]
    """Orders seen in a final status, by status."""
    timed_out: int
    settle_p50_ms: float | None
    settle_p95_ms: float | None

    @property
    def error_rate(self) -> float:
        """Failed requests over all requests (0 when there were none)."""
        return self.total.failures / self.total.requests if self.total.requests else 0.0

    @property
    def settled_count(self) -> int:
        """Orders seen final, whatever the status."""
        return sum(self.settled.values())

    @property
    def settled_per_s(self) -> float:
        """Orders that reached a final status per second of the run, end to end."""
        return self.settled_count / self.seconds if self.seconds > 0 else 0.0

    @property
    def unsettled_at_stop(self) -> int:
        """Orders still being followed when the run ended."""
        return self.placed - self.settled_count - self.timed_out


def percentile(counts: Mapping[float, int], fraction: float) -> float | None:
    """Nearest-rank percentile (``fraction`` in 0..1) of values given with their counts;
    None when there are none."""
    total = sum(counts.values())
    if not total:
        return None
    rank, seen = max(1, math.ceil(fraction * total)), 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    return max(counts)  # not reached: the counts add up to the total


def _endpoint(name: str, requests: int, failures: int, times: Mapping[float, int],
              seconds: float) -> Endpoint:
    p50, p95, p99 = (percentile(times, f) or 0.0 for f in (0.50, 0.95, 0.99))
    return Endpoint(name, requests, failures, requests / seconds if seconds > 0 else 0.0,
                    p50, p95, p99)


def summarize(entries: list[dict], settle: dict) -> Summary:
    """The summary from locust's stats entries (its JSON file: method, name, counts and a
    response-time histogram in ms) and the locustfile's settle record."""
    seconds = settle["seconds"]
    endpoints: list = []
    all_times: Counter[float] = Counter()
    for entry in entries:
        times = Counter({float(ms): n for ms, n in entry["response_times"].items()})
        all_times.update(times)
        endpoints.append(_endpoint(f"{entry['method']} {entry['name']}", entry["num_requests"],
                                   entry["num_failures"], times, seconds))
    total = _endpoint(TOTAL, sum(e.requests for e in endpoints),
                      sum(e.failures for e in endpoints), all_times, seconds)
    statuses = Counter(status for status, _ in settle["settled"])
    latencies = Counter(round(s * 1000, 1) for _, s in settle["settled"])
    return Summary(
        seconds=seconds, endpoints=tuple(sorted(endpoints, key=lambda e: e.name)), total=total,
        placed=settle["placed"], settled=dict(sorted(statuses.items())),
        timed_out=settle["timed_out"],
        settle_p50_ms=percentile(latencies, 0.50), settle_p95_ms=percentile(latencies, 0.95))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def render(summary: Summary) -> str:
    """The summary as the lines printed at the end of a run."""
    lines = [f"{'endpoint':<30} {'requests':>8} {'failed':>6} {'req/s':>7} "
             f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"]
    for row in (*summary.endpoints, summary.total):
        lines.append(f"{row.name:<30} {row.requests:>8} {row.failures:>6} {row.rps:>7.1f} "
                     f"{_ms(row.p50_ms):>7} {_ms(row.p95_ms):>7} {_ms(row.p99_ms):>7}")
    by_status = ", ".join(f"{n} {status}" for status, n in summary.settled.items()) or "none"
    lines += [
        f"error rate {summary.error_rate:.2%} ({summary.total.failures} of "
        f"{summary.total.requests} requests failed)",
        f"orders: {summary.placed} placed, {summary.settled_count} settled ({by_status}), "
        f"{summary.timed_out} timed out, {summary.unsettled_at_stop} still being followed "
        "at the end",
        f"orders settled end to end: {summary.settled_per_s:.1f}/s over {summary.seconds:.1f} s;"
        f" POST to final status p50 {_ms(summary.settle_p50_ms)} ms, "
        f"p95 {_ms(summary.settle_p95_ms)} ms",
    ]
    return "\n".join(lines)
