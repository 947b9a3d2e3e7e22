"""What the benchmarks do around what they measure: ports, processes, CPU, wrk, threads.

Each benchmark (``python -m bench.<name>``) starts its own servers on free loopback ports with
``start``/``Processes``, waits for them with ``wait_ok``, drives them with ``wrk`` or with
``spread`` (threads of ``requests`` sessions) and reads their CPU with ``tree_cpu_seconds``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import requests
from prometheus_client.parser import text_string_to_metric_families

RESULTS = Path(__file__).resolve().parent.parent / ".bench"
"""Where the benchmarks write their reports (git ignores it)."""


def unwind_on_sigterm() -> None:
    """Make SIGTERM unwind through ``finally`` as Ctrl-C does: a benchmark stopped with
    ``kill`` then stops the platform it started instead of leaving it running (and skewing
    whatever is measured next on the machine)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    """A process with its output appended to ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_ok(url: str, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
    """Poll ``url`` until it answers below 500 (a 503 from /readyz is not ready); fail early
    if ``proc`` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


class Processes:
    """Service processes started by a benchmark, stopped (SIGTERM, then SIGKILL) at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = {**os.environ, **env}
        self.logs = logs
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str], ready_url: str,
              extra: dict[str, str] | None = None) -> subprocess.Popen:
        """Start ``command`` as ``name`` and wait until ``ready_url`` answers."""
        proc = start(command, {**self.env, **(extra or {})}, self.logs / f"{name}.log")
        self.running[name] = proc
        wait_ok(ready_url, proc)
        return proc

    def stop(self, name: str, timeout: float = 40) -> None:
        """Stop one process, within its shutdown grace if it honours SIGTERM."""
        proc = self.running.pop(name)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self) -> None:
        """Stop every process still running."""
        for name in list(self.running):
            self.stop(name)


def stop(procs: list[subprocess.Popen], timeout: float = 40) -> None:
    """SIGTERM every process, then wait for each (they shut down in parallel)."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout)


def spread(total: int, concurrency: int, call: Callable[[requests.Session, int], None]) -> None:
    """``call(session, index)`` for each index below ``total``, from ``concurrency`` threads
    that each keep one session (keep-alive) and take the next index until none is left."""
    lock = threading.Lock()
    counter = iter(range(total))

    def client() -> None:
        session = requests.Session()
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            call(session, index)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and all its descendants, ended ones included.

    A gunicorn worker recycled after ``max_requests``, or a PostgreSQL backend whose client
    disconnected, is gone from the tree; its CPU time is in its parent's ``children_*`` times
    once reaped, so the sum never goes backwards mid-round.
    """
    total = 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return total
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except psutil.Error:
            continue
    return total


def wrk(url: str, script: Path, seconds: int, connections: int) -> dict:
    """One wrk run: requests/s, p50 and p99 in ms, requests, and non-2xx answers."""
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", str(script), url], capture_output=True, text=True,
                         timeout=seconds + 60, check=True).stdout
    percentiles = {int(p): _ms(v) for p, v in re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", out, re.M)}
    if not {50, 99} <= percentiles.keys():
        raise RuntimeError(f"wrk printed no latency distribution:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(_found(r"Requests/sec:\s+([\d.]+)", out)[0]),
            "p50_ms": percentiles[50], "p99_ms": percentiles[99],
            "requests": int(_found(r"(\d+) requests in", out)[0]),
            "non_2xx": int(bad.group(1)) if bad else 0}


def _found(pattern: str, text: str) -> tuple[str, ...]:
    """The groups of ``pattern``'s first match in wrk's output, which must have it."""
    match = re.search(pattern, text, re.M)
    if match is None:
        raise RuntimeError(f"wrk printed no {pattern!r}:\n{text}")
    return match.groups()


def _ms(value: str) -> float:
    number, unit = _found(r"^([\d.]+)(us|ms|s|m)$", value)
    return round(float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit], 3)


def lua_headers(headers: dict[str, str]) -> str:
    """``headers`` as a Lua table for ``wrk.format``."""
    return "{" + ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items()) + "}"


def lua_get_one_of(prefix: str, values: list[str], headers: dict[str, str] | None = None) -> str:
    """A wrk script that GETs ``prefix`` followed by one of ``values``, at random."""
    listed = ",".join(f'"{v}"' for v in values)
    return f"""
values = {{{listed}}}
math.randomseed(os.time() + math.floor(os.clock() * 1e6))
request = function()
  return wrk.format("GET", "{prefix}" .. values[math.random(1, #values)],
                    {lua_headers(headers or {})})
end
"""


def rounds_parser(doc: str, out: Path, rounds: int = 3) -> argparse.ArgumentParser:
    """The options of a benchmark that alternates wrk rounds, writing its JSON to ``out``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--out", type=Path, default=out)
    return parser


def parse_rounds_args(parser: argparse.ArgumentParser,
                      argv: list[str] | None) -> argparse.Namespace:
    """Parse, refuse to start without wrk, and make the output's directory."""
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (make bench installs it: apt-get install wrk)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    return args


def metric_sum(url: str, name: str) -> float:
    """The sum of every sample named ``name`` at ``url``/metrics."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples if sample.name == name)


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p90, p99 and the maximum of ``values``, rounded to 0.1; {} for none."""
    if not values:
        return {}
    s = sorted(values)
    pick = lambda p: round(s[min(len(s) - 1, int(p / 100 * len(s)))], 1)  # noqa: E731
    return {"p50": pick(50), "p90": pick(90), "p99": pick(99), "max": round(s[-1], 1)}
