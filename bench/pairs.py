"""Rounds run in alternating pairs, and the ratios taken pair by pair.

A benchmark that compares the project with a bare reference runs them in pairs, each pair in
the other order than the last, so that neither always meets a warmer or a busier machine; a
ratio is taken within each pair, and the median of those is the figure, with the interval
that holds the true median at 90 % confidence or more (``median_interval``): on a shared
2-core machine one round's ratio can land anywhere from 0.65 to 1.1, so a median alone does
not say whether 0.82 and 0.86 differ.
"""

from __future__ import annotations

import math
import statistics

CONFIDENCE = 0.9


def median_interval(values: list[float], confidence: float = CONFIDENCE
                    ) -> tuple[float, float, float]:
    """The narrowest interval of order statistics, ``(x_k, x_{n-k+1})``, that covers the
    median of the distribution ``values`` came from with at least ``confidence``, and its
    coverage. Distribution-free (a binomial count of values either side of the median), so it
    assumes nothing of the rounds' noise; with fewer than 5 values no interval reaches 90 %,
    and the whole range is given with the coverage it has.
    """
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("no values")
    # The median lies outside (x_k, x_{n-k+1}) when fewer than k values fall below it (or
    # above): probability tail = P(Bin(n, 1/2) < k), summed one term more per step.
    k, tail = 1, math.comb(n, 0) * 0.5 ** n
    while k + 1 <= n - k:
        wider_tail = tail + math.comb(n, k) * 0.5 ** n
        if 1 - 2 * wider_tail < confidence:
            break
        k, tail = k + 1, wider_tail
    return ordered[k - 1], ordered[n - k], 1 - 2 * tail


def _interval(values: list[float]) -> dict:
    low, high, coverage = median_interval(values)
    return {"low": round(low, 3), "high": round(high, 3), "coverage": round(coverage, 3)}


def api_summary(rounds: list[dict]) -> dict:
    """Per endpoint: the throughput ratio of each pair of rounds (project / bare) and its
    median; the same for CPU per request (bare / project, so that 1.0 means as cheap as the
    bare app and less means dearer); the medians of each target's figures.

    Both ratios, because they answer different questions. Throughput is what the load
    generator sees, and on two shared cores a slow day's costs that both apps share (the
    kernel, gunicorn, PostgreSQL, wrk itself) dilute the difference. CPU per request is what
    a pod pays for, and it keeps the difference.
    """
    result = {}
    for endpoint in dict.fromkeys(r["endpoint"] for r in rounds):
        mine = [r for r in rounds if r["endpoint"] == endpoint]
        by = {t: [r for r in mine if r["target"] == t] for t in ("project", "bare")}
        pairs = list(zip(by["project"], by["bare"], strict=True))
        ratios = [p["rps"] / b["rps"] for p, b in pairs]
        cpu_ratios = [b["cpu_ms_per_request"] / p["cpu_ms_per_request"] for p, b in pairs
                      if p["cpu_ms_per_request"] > 0] or [float("nan")]
        result[endpoint] = {
            "ratio_median": round(statistics.median(ratios), 3),
            "ratio_interval": _interval(ratios),
            "ratios": [round(r, 3) for r in ratios],
            "cpu_ratio_median": round(statistics.median(cpu_ratios), 3),
            "cpu_ratio_interval": _interval(cpu_ratios),
            "cpu_ratios": [round(r, 3) for r in cpu_ratios],
            **{f"{t}_{k}": round(statistics.median(r[k] for r in rs), 3)
               for t, rs in by.items() for k in ("rps", "p50_ms", "p99_ms",
                                                 "cpu_ms_per_request")},
        }
    return result


CONSUMERS = ("worker", "bare")
"""What can consume the queues in a run: the project's worker, or the bare reference."""


def run_plan(counts: list[int], reference_rounds: int) -> list[tuple[str, int]]:
    """(consumer, processes) per run: the worker counts, then the pairs of one-process runs,
    each pair in the other order than the last, so neither always runs on a warmer system."""
    runs = [("worker", count) for count in counts]
    for pair in range(reference_rounds):
        runs += [(kind, 1) for kind in (CONSUMERS if pair % 2 == 0 else CONSUMERS[::-1])]
    return runs


def reference_summary(rounds: list[dict]) -> dict:
    """The worker against the bare consumer, from rounds run in alternating pairs: the CPU per
    message of each, and per pair bare / worker (below 1.0 by what the worker adds)."""
    cpu = {kind: [r["consumer_cpu_ms_per_message"] for r in rounds if r["consumer"] == kind]
           for kind in CONSUMERS}
    ratios = [round(bare / worker, 3) for worker, bare in zip(cpu["worker"], cpu["bare"],
                                                             strict=True)]
    return {"reference": {
        "worker_cpu_ms_per_message": cpu["worker"], "bare_cpu_ms_per_message": cpu["bare"],
        "worker_median": statistics.median(cpu["worker"]),
        "bare_median": statistics.median(cpu["bare"]),
        "cpu_ratios": ratios, "cpu_ratio_median": statistics.median(ratios),
        "cpu_ratio_interval": _interval(ratios)}}
