"""`make load`: a bounded locust run against the APIs, its HTML report, a summary, thresholds.

    python -m loadtest                                  # the local platform (make dev)
    python -m loadtest --duration 30s --users 20 --max-p99-ms 500 --min-settled-per-s 5
    API_URL=https://api.example.com OAUTH_TOKEN_URL=... OAUTH_CLIENT_ID=... \
        OAUTH_CLIENT_SECRET=... python -m loadtest --allow-remote

Refuses, before any connection, to load anything that is not a loopback address without
``--allow-remote``. Creates its own products (SKU ``LOADTEST-<run id>-NN``) and orders only
those; there is no API to delete them afterwards. Exits 0 when every threshold is met, 1 when
one is missed (each printed), 2 when refused or misused, 3 when the run itself failed. It
calls the APIs with a machine client's token (``loadtest.credentials``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

from loadtest.credentials import CREDENTIAL_ENV, LOCAL_DATA_DIR, TOKEN_ENV, machine_token
from loadtest.summary import render, summarize
from loadtest.target import Target, refusal, resolve
from loadtest.thresholds import Limits, missed
from order_local.ports import LISTENERS
from order_platform.processes import READ_API, WRITE_API

ROOT = Path(__file__).resolve().parent.parent
MAX_SECONDS = 3600
STOP_MARGIN_SECONDS = 60
"""How long locust may take beyond the run time to start and write its reports."""
SETUP_TIMEOUT_SECONDS = 10
_FLAGS = {listener.name: listener.flag for listener in LISTENERS}
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?")


def seconds(text: str) -> int:
    """``30s``, ``2m``, ``1m30s``, ``1h`` or a number of seconds; 1 s to an hour."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 30s, 2m, 1m30s")
    h, m, s = (int(g or 0) for g in match.groups())
    total = h * 3600 + m * 60 + s
    if not 1 <= total <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 1 s and {MAX_SECONDS} s")
    return total


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make load", description=__doc__.split("\n\n")[0])
    where = parser.add_argument_group("target (default: the local platform)")
    where.add_argument("--api-url", default=os.environ.get("API_URL") or None,
                       help="the load balancer's host; the APIs are on the catalogue's ports "
                            f"{WRITE_API.port} and {READ_API.port} (default: $API_URL)")
    where.add_argument("--write-url", help="the write API's base URL, port included")
    where.add_argument("--read-url", help="the read API's base URL, port included")
    where.add_argument(_FLAGS[WRITE_API.role], dest="write_port", type=int, metavar="PORT",
                       help="the write API's port, if moved (as for make dev)")
    where.add_argument(_FLAGS[READ_API.role], dest="read_port", type=int, metavar="PORT",
                       help="the read API's port, if moved")
    where.add_argument("--allow-remote", action="store_true",
                       help="allow a target that is not a loopback address")
    where.add_argument("--data-dir", type=Path, default=LOCAL_DATA_DIR,
                       help="the local platform whose machine client signs in, when "
                            f"{CREDENTIAL_ENV[0]} etc. are not set (default: .local)")
    load = parser.add_argument_group("load")
    load.add_argument("--duration", type=seconds, default=30, help="e.g. 30s, 2m (default 30s)")
    load.add_argument("--users", type=int, default=20,
                      help="concurrent users: one stock keeper, the rest shoppers (default 20)")
    load.add_argument("--spawn-rate", type=float, default=10, help="users started per second")
    load.add_argument("--products", type=int, default=10, help="products the run creates")
    load.add_argument("--out", type=Path, default=ROOT / ".load",
                      help="where each run's report goes (default .load/, git-ignored)")
    limits = parser.add_argument_group("thresholds (exit 1 when one is missed)")
    limits.add_argument("--max-error-rate", type=float, help="e.g. 0.01 for 1 %%")
    limits.add_argument("--max-p99-ms", type=float, help="for every endpoint")
    limits.add_argument("--min-rps", type=float, help="total requests per second")
    limits.add_argument("--min-settled-per-s", type=float, help="orders final per second")
    limits.add_argument("--max-settle-p95-ms", type=float, help="POST to final status")
    return parser


def create_products(target: Target, run_id: str, count: int, token: str) -> list[str]:
    """The run's own products, with stock; their SKUs. RuntimeError when the API refuses."""
    import requests

    skus = []
    for number in range(1, count + 1):
        sku = f"LOADTEST-{run_id}-{number:02d}"
        resp = requests.post(f"{target.write_url}/products", timeout=SETUP_TIMEOUT_SECONDS,
                             headers={"Authorization": f"Bearer {token}"},
                             json={"sku": sku, "name": f"Load test {run_id} #{number}",
                                   "price_cents": 100 * number, "stock": 1000})
        if resp.status_code != 201:
            raise RuntimeError(f"creating {sku} answered {resp.status_code}: {resp.text[:200]}")
        skus.append(sku)
    return skus


def run_locust(target: Target, args: argparse.Namespace, run_id: str, skus: list[str],
               run_dir: Path, *, token: str) -> int:
    """locust, headless, in a process of its own (gevent patches whatever imports it)."""
    argv = [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtest" / "locustfile.py"),
            "--headless", "--only-summary", "--loglevel", "WARNING",
            "--host", target.write_url, "--read-url", target.read_url,
            "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
            "--run-time", f"{args.duration}s", "--exit-code-on-error", "0",
            "--html", str(run_dir / "report.html"), "--json-file", str(run_dir / "stats"),
            "--skus", ",".join(skus), "--run-id", run_id,
            "--settle-file", str(run_dir / "settle.json"),
            *(["--allow-remote"] if args.allow_remote else [])]
    env = {**os.environ, TOKEN_ENV: token, "PYTHONPATH": os.pathsep.join(filter(None, (
        str(ROOT), os.environ.get("PYTHONPATH"))))}
    try:
        return subprocess.run(argv, cwd=ROOT, env=env, check=False,  # noqa: S603 (our locust)
                              timeout=args.duration + STOP_MARGIN_SECONDS).returncode
    except subprocess.TimeoutExpired:
        return -1


def main(argv: list[str] | None = None) -> int:
    """Check the target, run the load, print the summary, judge the thresholds."""
    args = _parser().parse_args(argv)
    if not 2 <= args.users <= 1000 or not 1 <= args.products <= 99 or args.spawn_rate <= 0:
        print("load: --users must be 2..1000, --products 1..99, --spawn-rate > 0",
              file=sys.stderr)
        return 2
    try:
        target = resolve(api_url=args.api_url, write_url=args.write_url, read_url=args.read_url,
                         write_port=args.write_port, read_port=args.read_port)
    except ValueError as exc:
        print(f"load: {exc}", file=sys.stderr)
        return 2
    if why := refusal(target, args.allow_remote):
        print(f"load: {why}", file=sys.stderr)
        return 2
    run_id = secrets.token_hex(3).upper()
    run_dir = args.out / f"{time.strftime('%Y%m%d-%H%M%S')}-{run_id}"
    run_dir.mkdir(parents=True)
    print(f"load: run {run_id}, {args.users} users for {args.duration} s against "
          f"{target.write_url} (write) and {target.read_url} (read)", flush=True)
    try:
        token = machine_token(local=not args.allow_remote, data_dir=args.data_dir)
        skus = create_products(target, run_id, args.products, token)
    except (ValueError, OSError, RuntimeError) as exc:  # requests' errors are OSErrors
        print(f"load: cannot get a token or create the run's products: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 3
    code = run_locust(target, args, run_id, skus, run_dir, token=token)
    stats, settle = run_dir / "stats.json", run_dir / "settle.json"
    if code != 0 or not stats.exists() or not settle.exists():
        print(f"load: locust failed (exit {code}); see the output above", file=sys.stderr)
        return 3
    summary = summarize(json.loads(stats.read_text()), json.loads(settle.read_text()))
    print(render(summary))
    print(f"report: {run_dir / 'report.html'}")
    misses = missed(summary, Limits(args.max_error_rate, args.max_p99_ms, args.min_rps,
                                    args.min_settled_per_s, args.max_settle_p95_ms))
    for miss in misses:
        print(f"load: threshold missed: {miss}", file=sys.stderr)
    return 1 if misses else 0
