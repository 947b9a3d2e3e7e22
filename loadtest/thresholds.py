"""Pass/fail limits given on the command line, checked against a run's summary."""

from __future__ import annotations

from dataclasses import dataclass

from loadtest.summary import Summary


@dataclass(frozen=True)
class Limits:
    """What a run must achieve; None means no limit."""

    max_error_rate: float | None = None
    max_p99_ms: float | None = None
    """For every endpoint, so a slow route cannot hide behind fast ones."""
    min_rps: float | None = None
    min_settled_per_s: float | None = None
    max_settle_p95_ms: float | None = None


def missed(summary: Summary, limits: Limits) -> list[str]:
    """One line per limit the run missed; empty when it met them all."""
    misses = []
    if limits.max_error_rate is not None and summary.error_rate > limits.max_error_rate:
        misses.append(f"error rate {summary.error_rate:.2%} > {limits.max_error_rate:.2%}")
    if limits.max_p99_ms is not None:
        misses += [f"{e.name} p99 {e.p99_ms:.0f} ms > {limits.max_p99_ms:g} ms"
                   for e in summary.endpoints if e.p99_ms > limits.max_p99_ms]
    if limits.min_rps is not None and summary.total.rps < limits.min_rps:
        misses.append(f"total {summary.total.rps:.1f} req/s < {limits.min_rps:g} req/s")
    if limits.min_settled_per_s is not None and summary.settled_per_s < limits.min_settled_per_s:
        misses.append(f"orders settled {summary.settled_per_s:.2f}/s < "
                      f"{limits.min_settled_per_s:g}/s")
    p95 = summary.settle_p95_ms
    if limits.max_settle_p95_ms is not None and (p95 is None or p95 > limits.max_settle_p95_ms):
        seen = "(no order settled)" if p95 is None else f"{p95:.0f} ms"
        misses.append(f"settle p95 {seen} > {limits.max_settle_p95_ms:g} ms")
    return misses
