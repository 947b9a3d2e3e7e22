"""`order-local up`: the whole platform on this machine; Ctrl-C stops all of it."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

import honcho.manager
from honcho.manager import Manager

from order_local import identity, live, restore_drill
from order_local.machine import DEFAULT_SYSTEM_USER, SetupError
from order_local.ports import LISTENERS, Ports
from order_local.preflight import check_ports_free
from order_local.stack import (
    STOP_GRACE_SECONDS,
    banner,
    seed_demo_products,
    service_commands,
    start_backing,
    wait_healthy,
)
from order_platform.domain.access import Role
from order_platform.processes import DEPLOYED, WRITE_API


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="order-local", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start PostgreSQL (writer and streaming reader), the AWS "
                                   "emulator, the product cache and every service")
    up.add_argument("--data-dir", type=Path, default=Path(".local"),
                    help="where PostgreSQL keeps its data (default: .local, git-ignored)")
    for listener in LISTENERS:
        up.add_argument(listener.flag, dest=f"port:{listener.name}", type=int, metavar="PORT",
                        default=listener.default,
                        help=f"port of {listener.what} (default: {listener.default})")
    up.add_argument("--pg-system-user", default=DEFAULT_SYSTEM_USER,
                    help="under root, the system user PostgreSQL runs as, created if missing "
                         f"(default: {DEFAULT_SYSTEM_USER}); ignored for a normal user")
    up.add_argument("--no-seed", action="store_true", help="skip the demo products")
    top = sub.add_parser("top", help="a live view of the running platform, every second",
                         description=live.__doc__,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    live.add_arguments(top)
    token = sub.add_parser("token", help="print an access token of the running platform's user "
                                         "pool: for a customer, with roles, or for a machine")
    identity.add_token_arguments(token)
    drill = sub.add_parser("restore-drill", help="back up the writer, lose it, restore it to a "
                                                 "point in time; check the orders; RPO and RTO")
    drill.add_argument("--orders", type=int, default=100,
                       help="orders placed before the restore point, and again after it")
    drill.add_argument("--work-dir", type=Path, default=Path(".local/restore-drill"),
                       help="where the clusters, the backup and the archive go (emptied first)")
    drill.add_argument("--pg-system-user", default=DEFAULT_SYSTEM_USER,
                       help="under root, the system user PostgreSQL runs as")
    return parser.parse_args(argv)


def _after_start(manager: Manager, ports: Ports, seed: bool,
                 users: identity.LocalIdentity) -> None:
    """Seed through the write API once it answers, then tell the user what to try."""
    try:
        for proc in DEPLOYED:
            wait_healthy(f"{ports.url(proc.role)}{proc.probes.readiness}")
        if seed:
            created = seed_demo_products(ports.url(WRITE_API.role),
                                         users.machine_token(Role.ADMIN))
            print(f"local: demo products created: {', '.join(created) or 'already present'}",
                  flush=True)
        print(banner(ports), flush=True)
    except Exception as exc:  # a failed start must not leave a half-running platform
        print(f"local: start-up failed: {exc}; stopping", file=sys.stderr, flush=True)
        manager.terminate()


def up(args: argparse.Namespace) -> int:
    """Start everything, supervise the services, stop everything on exit."""
    ports = Ports({listener.name: getattr(args, f"port:{listener.name}")
                   for listener in LISTENERS})
    # Until the supervisor installs its own handlers, SIGTERM unwinds through `finally`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # honcho's 5 s default would SIGKILL a worker that is still finishing its messages.
    honcho.manager.KILL_WAIT = STOP_GRACE_SECONDS
    try:
        check_ports_free(ports)
        backing = start_backing(args.data_dir.resolve(), ports, args.pg_system_user)
    except SetupError as exc:
        # Something the user can fix: one line that says what, no traceback.
        print(f"local: {exc}", file=sys.stderr, flush=True)
        return 2
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(f"local: start-up failed: {exc} (server logs: {args.data_dir}/*.log)",
              file=sys.stderr, flush=True)
        return 1
    try:
        manager = Manager()
        for name, (command, extra_env) in service_commands(ports).items():
            manager.add_process(name, command, env={**os.environ, **backing.contract,
                                                    **extra_env})
        threading.Thread(target=_after_start,
                         args=(manager, ports, not args.no_seed, backing.identity),
                         daemon=True).start()
        manager.loop()
        # Ctrl-C (130) or SIGTERM (143) is how a user stops the platform: not a failure.
        return 0 if manager.returncode in (None, 0, 130, 143) else manager.returncode
    finally:
        backing.stop()
        print("local: stopped the product cache, the AWS emulator and PostgreSQL (reader, then "
              "writer)", flush=True)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    args = _parse(argv)
    if args.command == "up":
        return up(args)
    if args.command == "top":
        return live.run(args)
    if args.command == "token":
        try:
            print(identity.token_command(args), flush=True)
        except SetupError as exc:
            print(f"local: {exc}", file=sys.stderr, flush=True)
            return 2
        return 0
    if args.command == "restore-drill":
        findings = restore_drill.run(args.work_dir.resolve(), args.orders, args.pg_system_user)
        print(findings.report(), flush=True)
        return 0 if findings.passed else 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
