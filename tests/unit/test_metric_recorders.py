"""The per-request recorders (adder, setter, Observer), and in multiprocess mode the lean
values they write (adapters/metric_values.py), leave exactly the exposition that
prometheus_client's own inc/set/observe and values leave."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys

import pytest
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def _amounts() -> list[float]:
    rng = random.Random(7)
    # Random amounts, and each bucket bound exactly (a bound belongs to its own bucket).
    return [rng.expovariate(20) for _ in range(500)] + list(BUCKETS) + [0.0, 99.0]


def _record(fast: bool, amounts: list[float]) -> bytes:
    if fast:  # imported here: in multiprocess mode, importing it installs the lean values
        from order_platform.adapters.metrics import Observer, adder, setter
    registry = CollectorRegistry()
    counter = Counter("requests", "r", ["route"], registry=registry).labels("/orders")
    gauge = Gauge("in_flight", "f", registry=registry)
    level = Gauge("in_use", "u", ["endpoint"], registry=registry).labels("writer")
    histogram = Histogram("duration", "d", ["route"], buckets=BUCKETS,
                          registry=registry).labels("/orders")
    if fast:
        count, move, put, observe = adder(counter), adder(gauge), setter(level), \
            Observer(histogram)
    else:
        count, move, put, observe = counter.inc, gauge.inc, level.set, histogram.observe
    for n, amount in enumerate(amounts):
        count(1)
        move(1 if n % 3 else -1)
        put(n % 5)
        observe(amount)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # what a scrape of the workers reads
        from prometheus_client import multiprocess
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    text = re.sub(rb'pid="\d+"', b'pid="*"', generate_latest(registry))  # one run's pid
    return b"\n".join(sorted(line for line in text.splitlines()
                             if not line.startswith(b"#") and b"_created" not in line))


def test_the_recorders_leave_what_the_library_leaves():
    amounts = _amounts()
    assert _record(True, amounts) == _record(False, amounts)
    assert b'duration_bucket{le="0.005",route="/orders"} ' in _record(True, amounts)


def _in_multiprocess_mode(fast: bool, directory) -> bytes:
    script = ("import sys; from tests.unit.test_metric_recorders import _amounts, _record, "
              f"_value_class; out = _record({fast}, _amounts()); "
              "sys.stdout.buffer.write(_value_class().encode() + b'|' + out)")
    directory.mkdir()
    return subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                          env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)},
                          timeout=120).stdout


def _value_class() -> str:
    return values.ValueClass.__name__


def test_in_multiprocess_mode_too(tmp_path):
    lean_class, _, fast = _in_multiprocess_mode(True, tmp_path / "fast").partition(b"|")
    library_class, _, library = _in_multiprocess_mode(False, tmp_path / "library").partition(b"|")
    assert (lean_class, library_class) == (b"LeanValue", b"MmapedValue")
    assert fast == library
    assert b'duration_bucket{le="0.005",route="/orders"} ' in fast


def test_a_labelled_metric_must_be_given_a_child():
    from order_platform.adapters.metrics import adder

    with pytest.raises(ValueError, match="labels"):
        adder(Counter("c", "c", ["route"], registry=CollectorRegistry()))


_FORK = """
import os, sys
if sys.argv[1] == "lean":
    from order_platform.adapters import metrics  # noqa: F401 - installs the lean values
from prometheus_client import CollectorRegistry, Counter, generate_latest, multiprocess, values
counter = Counter("forked", "f", registry=CollectorRegistry())
counter.inc(5)
child = os.fork()
if child == 0:  # a child's values start from its own file, not from its parent's
    counter.inc(2)
    os._exit(0)
os.waitpid(child, 0)
counter.inc(1)
registry = CollectorRegistry()
multiprocess.MultiProcessCollector(registry)
total = [l for l in generate_latest(registry).decode().splitlines() if l.startswith("forked_total")]
print(values.ValueClass.__name__, total)
"""


@pytest.mark.parametrize("kind", ["lean", "library"])
def test_a_forked_child_counts_in_its_own_file(kind, tmp_path):
    out = subprocess.run([sys.executable, "-c", _FORK, kind], check=True, capture_output=True,
                         text=True, env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
                         timeout=120).stdout.split(maxsplit=1)
    assert out == [{"lean": "LeanValue", "library": "MmapedValue"}[kind],
                   "['forked_total 8.0']\n"]
