"""`order-local top`: a live view of the running local platform, refreshed every second.

    order-local top                         # until Ctrl-C
    order-local top --once                  # one frame (over one interval), then exit
    order-local top --seconds 60            # stop after a minute
    order-local top --write-api-port 3010   # the port flags of `order-local up`

Orders created and settled per second, the outbox backlog and the age of its oldest row, each
queue's depth (visible, in flight, dead-lettered) read from the emulator, the worker's pace and
lag per queue, and each API's request rate, 5xx rate and p50/p99 over a sliding window of the
``/metrics`` histogram buckets. A process that does not answer is shown as down.
"""

from __future__ import annotations

import argparse

from order_local.ports import LISTENERS, Ports

MAX_INTERVAL_SECONDS = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The view's options, and the same port flags as `order-local up`."""
    for listener in LISTENERS:
        parser.add_argument(listener.flag, dest=f"port:{listener.name}", type=int,
                            metavar="PORT", default=listener.default,
                            help=f"port of {listener.what} (default: {listener.default})")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes")
    parser.add_argument("--window", type=int, default=5,
                        help="refreshes that rates and quantiles span (default 5)")
    bound = parser.add_mutually_exclusive_group()
    bound.add_argument("--once", action="store_true", help="print one frame and exit")
    bound.add_argument("--seconds", type=float, help="stop after this long")


def run(args: argparse.Namespace) -> int:
    """Show the platform until Ctrl-C, ``--seconds`` or ``--once``."""
    import time
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    from rich.console import Console
    from rich.live import Live

    from order_local.live.figures import Snapshot, frame
    from order_local.live.scrape import QueueDepths, metrics_urls, snapshot
    from order_local.live.view import render
    from order_local.provision import LocalAws

    if not 0.1 <= args.interval <= MAX_INTERVAL_SECONDS or not 1 <= args.window <= 600 \
            or (args.seconds is not None and args.seconds <= 0):
        print("top: --interval must be 0.1..60, --window 1..600, --seconds > 0")
        return 2
    ports = Ports({listener.name: getattr(args, f"port:{listener.name}")
                   for listener in LISTENERS})
    urls = metrics_urls(ports)
    queues = QueueDepths(LocalAws(endpoint_url=f"http://127.0.0.1:{ports.aws}"))
    history: deque[Snapshot] = deque(maxlen=args.window + 1)
    console = Console()
    with ThreadPoolExecutor(len(urls)) as pool:

        def refresh():
            history.append(snapshot(urls, queues, pool))
            return render(frame(history[-1], history[0]), ports.by_name)

        refresh()
        if args.once:
            time.sleep(args.interval)
            console.print(refresh())
            return 0
        stop_at = time.monotonic() + args.seconds if args.seconds else float("inf")
        try:
            with Live(console=console, auto_refresh=False) as live:
                while (left := stop_at - time.monotonic()) > 0:
                    time.sleep(min(args.interval, left))
                    live.update(refresh(), refresh=True)
        except KeyboardInterrupt:
            pass  # Ctrl-C is how the view is meant to end
    return 0
