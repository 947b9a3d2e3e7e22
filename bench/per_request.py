"""What one request costs each app's Python, counted without load: instructions or a profile.

The figures of ``make bench-compare`` move with whatever else the machine runs. This counts
instead: it starts the backing services (``stack.start_backing``), then a child process that
builds the write and read APIs as gunicorn does (the environment's settings, JSON logs, the
metrics in multiprocess files, gunicorn's request hooks) and ``bench/bare_app.py``, and calls
each one's WSGI callable in-process for ``POST /orders`` and ``GET /orders/{id}`` against
the same databases. ``--tool callgrind`` runs that child under valgrind and gives the
instructions per request of each phase (valgrind dumps its counts as the child marks a phase
by calling ``getppid``); ``--tool strace`` the system calls per request of each phase, by
name. ``--tool cprofile`` writes a pstats file per phase to ``--out``, and ``--tool opcodes``
one whose clock is the count of Python bytecodes run (inclusive and own, by function, with
no timer's noise).

    .venv/bin/python -m bench.per_request --tool callgrind --requests 200
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.measure import RESULTS, unwind_on_sigterm

PHASES = ("project POST /orders", "bare POST /orders",
          "project GET /orders/{id}", "bare GET /orders/{id}")
_WARM_UP = 30


def main(argv: list[str] | None = None) -> int:
    """Start the backing services, run the child, print each phase's cost per request."""
    unwind_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool", choices=("callgrind", "cprofile", "opcodes", "strace"),
                        default="callgrind")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--out", type=Path, default=RESULTS / "per_request")
    parser.add_argument("--drive", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.drive:
        return _drive(json.loads(args.drive.read_text()))
    from bench import compare
    from order_local import stack
    from order_local.ports import Ports

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="order-per-request-") as tmp:
        base = Path(tmp)
        backing = stack.start_backing(base / "data", Ports.free())
        try:
            authorization = compare.bench_auth(backing)["Authorization"]
            plan = {"env": {**backing.contract, **compare.bare_database(backing, base / "data")},
                    "authorization": authorization,
                    "requests": args.requests, "tool": args.tool, "out": str(args.out)}
            (base / "plan.json").write_text(json.dumps(plan))
            child = [sys.executable, "-m", "bench.per_request", "--drive", str(base / "plan.json")]
            if args.tool == "callgrind":
                for old in args.out.glob("callgrind.out.*"):
                    old.unlink()
                child = ["valgrind", "--tool=callgrind", "--dump-before=getppid",
                         f"--callgrind-out-file={args.out}/callgrind.out.%p", *child]
            elif args.tool == "strace":
                child = ["strace", "-f", "-o", str(args.out / "strace.txt"), *child]
            # Where gunicorn's master would put the workers' metrics files, set before the
            # child starts: prometheus_client picks its kind of value as it is imported, which
            # this module's own imports already do.
            metrics = base / "metrics"
            metrics.mkdir()
            with open(args.out / "child.log", "wb") as log:
                subprocess.run(child, check=True, stderr=log,
                               env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics)})
        finally:
            backing.stop()
    if args.tool == "callgrind":
        print(json.dumps(_instructions(args.out, args.requests), indent=2))
    elif args.tool == "strace":
        print(json.dumps(_system_calls(args.out / "strace.txt", args.requests), indent=2))
    return 0


def _instructions(out: Path, requests: int) -> dict[str, int]:
    """Instructions per request of each phase: the dumps made as each phase ended."""
    dumps = sorted(out.glob("callgrind.out.*.*"), key=lambda p: int(p.name.rsplit(".", 1)[1]))
    totals = [int(re.findall(r"^(?:summary|totals): (\d+)", p.read_text(), re.M)[0])
              for p in dumps]
    _expect_marks(len(totals))
    # Dumps alternate: what came before a phase, then the phase.
    return {phase: totals[2 * n + 1] // requests for n, phase in enumerate(PHASES)}


def _expect_marks(parts: int) -> None:
    """Two marks per phase: anything else called ``getppid`` too, and the phases are off."""
    if parts != 2 * len(PHASES):
        raise RuntimeError(f"{parts} parts between marks, not {2 * len(PHASES)}")


def _system_calls(trace: Path, requests: int) -> dict[str, dict[str, float]]:
    """System calls per request of each phase, by name: the trace cut at the phases' marks."""
    parts: list[collections.Counter[str]] = [collections.Counter()]
    for line in trace.read_text().splitlines():
        call = re.match(r"\d+\s+(?:<\.\.\. )?(\w+)", line)
        if call is None or "resumed>" in line:
            continue
        if call.group(1) == "getppid":
            parts.append(collections.Counter())
        else:
            parts[-1][call.group(1)] += 1
    _expect_marks(len(parts) - 1)  # the last part is what came after the last phase
    return {phase: {name: n / requests for name, n in parts[2 * n + 1].most_common()}
            for n, phase in enumerate(PHASES)}


def _drive(plan: dict[str, Any]) -> int:
    """In the child: build the three apps, seed, run the phases."""
    os.environ.update(plan["env"])
    _run_phases(plan)
    return 0


def _run_phases(plan: dict[str, Any]) -> None:
    from bench.bare_app import create_app as bare_app
    from order_platform.entrypoints.read_api.app import create_app as read_app
    from order_platform.entrypoints.web import gunicorn_conf
    from order_platform.entrypoints.write_api.app import create_app as write_app

    auth = plan["authorization"]
    write, read, bare = write_app(), read_app(), bare_app()
    if not any(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db")):
        raise RuntimeError("the APIs' metrics are not in multiprocess files, as in gunicorn")
    sku = f"PER-REQUEST-{os.getpid()}"
    status, _ = _call(write, "POST", "/products", auth, {
        "sku": sku, "name": "bench", "price_cents": 100, "stock": 2_000_000_000})
    if not status.startswith("201"):
        raise RuntimeError(f"the product was not created: {status}")
    order = {"items": [{"sku": sku, "quantity": 1}]}
    ids = [json.loads(_call(write, "POST", "/orders", auth, order)[1])["id"]
           for _ in range(plan["requests"] + _WARM_UP)]
    hooks = (gunicorn_conf.pre_request, gunicorn_conf.post_request)
    targets = {"project POST /orders": (write, hooks), "bare POST /orders": (bare, None),
               "project GET /orders/{id}": (read, hooks), "bare GET /orders/{id}": (bare, None)}
    for phase in PHASES:
        app, with_hooks = targets[phase]
        posting = phase.split()[1] == "POST"
        calls = [_environ("POST", "/orders", auth, order) if posting
                 else _environ("GET", f"/orders/{order_id}", auth) for order_id in ids]
        for environ in calls[:_WARM_UP]:
            _serve(app, environ, with_hooks)
        _phase(plan, phase, app, calls[_WARM_UP:], with_hooks)


def _phase(plan: dict[str, Any], phase: str, app: Any, calls: list[dict[str, Any]],
           hooks: Any) -> None:
    """One measured phase: between two marks (callgrind, strace) or inside a profile."""
    import cProfile

    def run() -> None:
        for environ in calls:
            _serve(app, environ, hooks)

    out = Path(plan["out"]) / re.sub(r"\W+", "-", phase).strip("-")
    if plan["tool"] == "callgrind" or plan["tool"] == "strace":
        os.getppid()
        run()
        os.getppid()
        return
    opcodes = _Opcodes()
    # With bytecodes run as its clock, cProfile's figures are bytecodes, not seconds.
    profile = (cProfile.Profile(opcodes.count, 1.0) if plan["tool"] == "opcodes"
               else cProfile.Profile())
    profile.enable()
    if plan["tool"] == "opcodes":
        opcodes.trace(run)
    else:
        run()
    profile.disable()
    profile.dump_stats(out.with_suffix(f".{plan['tool']}.pstats"))


class _Opcodes:
    """Counts the Python bytecodes a function runs, by tracing every frame it enters."""

    def __init__(self) -> None:
        self.ran = 0

    def count(self) -> int:
        """Bytecodes run so far."""
        return self.ran

    def trace(self, run: Callable[[], None]) -> None:
        """``run()``, counted."""
        def local(frame: Any, event: str, arg: Any) -> Any:
            self.ran += 1
            return local

        def calls(frame: Any, event: str, arg: Any) -> Any:
            frame.f_trace_opcodes, frame.f_trace_lines = True, False
            return local

        sys.settrace(calls)
        try:
            run()
        finally:
            sys.settrace(None)


class _GunicornRequest:
    """What gunicorn's request hooks read of a request."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.method, self.path = environ["REQUEST_METHOD"], environ["PATH_INFO"]

    def force_close(self) -> None:
        """Not draining here."""


def _serve(app: Any, environ: dict[str, Any], hooks: Any) -> None:
    """One request as a gunicorn worker serves it: hooks, the app, the body, close."""
    if hooks is not None:
        hooks[0](None, _GunicornRequest(environ))
    answered: list[str] = []
    result = app(environ, lambda status, headers, exc_info=None: answered.append(status))
    try:
        for _ in result:
            pass
    finally:
        if hasattr(result, "close"):
            result.close()
    if hooks is not None:
        hooks[1](None, None, environ, None)
    if not answered[0].startswith("2"):
        raise RuntimeError(f"{environ['PATH_INFO']} answered {answered[0]}")


def _environ(method: str, path: str, auth: str, body: Any = None) -> dict[str, Any]:
    data = b"" if body is None else json.dumps(body).encode()
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "",
               "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "3000",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
               "HTTP_HOST": "127.0.0.1:3000", "HTTP_AUTHORIZATION": auth,
               "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(data),
               "wsgi.errors": sys.stderr, "wsgi.multithread": True,
               "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0)}
    if body is not None:
        environ.update(CONTENT_TYPE="application/json", CONTENT_LENGTH=str(len(data)))
    return environ


def _call(app: Any, method: str, path: str, auth: str, body: Any = None) -> tuple[str, bytes]:
    answer: list[str] = []
    result = app(_environ(method, path, auth, body),
                 lambda status, headers, exc_info=None: answer.append(status))
    data = b"".join(result)
    return answer[0], data


if __name__ == "__main__":
    sys.exit(main())
