"""API throughput and service memory on a whole local platform that this script starts.

Starts `order-local up` on free 127.0.0.1 ports in a temporary directory (nothing to run
first), records each service's memory (PSS) at idle, runs bench/api_load.py against
it — while the worker and relay process the orders it places, as they would in real use —
records memory again under that load's aftermath, and stops everything. Bounded by the
request count; asserts nothing about the figures.

    .venv/bin/python -m bench.platform_bench --requests 2000 --concurrency 8
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from bench import api_load
from bench.measure import unwind_on_sigterm
from order_local.ports import Ports
from order_local.runner import LocalPlatformProcess


def _mib(values: dict[str, int]) -> dict[str, float]:
    return {name: round(used / 2**20, 1) for name, used in sorted(values.items())}


def main(argv: list[str] | None = None) -> int:
    """Start the platform, measure, stop it."""
    unwind_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per phase")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="order-bench-") as tmp:
        platform = LocalPlatformProcess(Path(tmp) / "local", Ports.free(), seed=False)
        try:
            platform.wait_for()
            idle = platform.service_memory()
            code = api_load.main(["--write-url", platform.write_url,
                                  "--read-url", platform.read_url,
                                  "--requests", str(args.requests),
                                  "--concurrency", str(args.concurrency),
                                  "--data-dir", str(platform.data_dir)])
            loaded = platform.service_memory()
            print(json.dumps({"memory_pss_mib": {"idle": _mib(idle), "after_load": _mib(loaded)}}),
                  flush=True)
        finally:
            platform.interrupt()
    return code


if __name__ == "__main__":
    sys.exit(main())
