"""`make profile`: where an API's time goes under load, sampled with py-spy.

Starts PostgreSQL (writer and replica), the emulator and one API as the image runs it, loads
one endpoint with wrk, and samples every gunicorn worker with py-spy meanwhile. Writes a
flame graph (SVG) and prints the functions with the most samples: on their own ("self") and
anywhere on the stack ("total"), the top costs to go after.

    .venv/bin/python -m bench.hotspots --endpoint post --seconds 15
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import compare
from bench.measure import RESULTS, free_port, start, stop, unwind_on_sigterm, wait_ok, wrk
from order_local import stack
from order_local.ports import Ports
from order_platform import launch
from order_platform.processes import READ_API, WRITE_API

PY_SPY = str(Path(sys.executable).parent / "py-spy")


def top(raw: Path, count: int) -> tuple[list, list, int]:
    """The most-sampled functions, by self samples and by total (inclusive) samples."""
    own: collections.Counter = collections.Counter()
    anywhere: collections.Counter = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack_text, _, weight = line.rpartition(" ")
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1]
                  if " (" in f else f for f in stack_text.split(";")]
        n = int(weight)
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            anywhere[frame] += n
    return own.most_common(count), anywhere.most_common(count), samples


def main(argv: list[str] | None = None) -> int:
    """Profile one endpoint; print the top costs."""
    unwind_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", choices=("post", "get"), default="post")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    proc_def = WRITE_API if args.endpoint == "post" else READ_API
    with tempfile.TemporaryDirectory(prefix="order-profile-") as tmp:
        base = Path(tmp)
        backing = stack.start_backing(base / "data", Ports.free())
        env = {**os.environ, **backing.contract}
        write_port, read_port = free_port(), free_port()
        procs = [start(launch.command(p, host="127.0.0.1", port=port),
                                {**env, **launch.environment(p)}, base / f"{p.role}.log")
                 for p, port in ((WRITE_API, write_port), (READ_API, read_port))]
        try:
            write_url, read_url = (f"http://127.0.0.1:{p}" for p in (write_port, read_port))
            for url in (write_url, read_url):
                wait_ok(f"{url}/healthz")
            auth = compare.bench_auth(backing)
            sku, ids = compare.seed(write_url, 1000, auth)
            backing.reader.wait_caught_up()
            script = base / "load.lua"
            script.write_text(compare.lua_post(sku, auth) if args.endpoint == "post"
                              else compare.lua_get(ids, auth))
            target = procs[0] if args.endpoint == "post" else procs[1]
            raw, flame = (args.out / f"profile-{args.endpoint}.{ext}" for ext in ("txt", "svg"))
            url = write_url if args.endpoint == "post" else read_url
            # One sampler at a time: two would double what sampling costs the workers.
            for fmt, path in (("raw", raw), ("flamegraph", flame)):
                # --gil: only threads holding the GIL, i.e. Python doing work, not waiting
                # on the database (which the throughput already shows).
                spy = subprocess.Popen([PY_SPY, "record", "--pid", str(target.pid),
                                        "--subprocesses", "--gil", "--rate", "250",
                                        "--duration", str(args.seconds), "--format", fmt,
                                        "--output", str(path)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1)
                result = wrk(url, script, args.seconds, 16)
                spy.wait(args.seconds + 60)
        finally:
            stop(procs)
            backing.stop()
    own, anywhere, samples = top(raw, args.top)
    print(f"{proc_def.role} {args.endpoint}: {result['rps']:.0f} req/s under py-spy, "
          f"{samples} samples; flame graph: {flame}")
    for title, rows in (("self", own), ("total", anywhere)):
        print(f"\ntop {title}:")
        for frame, n in rows:
            print(f"  {100 * n / samples:5.1f}%  {frame}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
