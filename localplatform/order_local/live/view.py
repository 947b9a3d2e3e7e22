"""How a frame looks in the terminal (rich): a status line, orders and outbox, the queues,
and the APIs' routes. A dash is a figure nobody reports; "down" a process that did not answer."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Group
from rich.table import Table
from rich.text import Text

from order_local.live.figures import APIS, EMULATOR, Frame

DASH = "-"


def _f(value: float | None, fmt: str = ".1f", scale: float = 1.0) -> str:
    return DASH if value is None else format(value * scale, fmt)


def _state(up: bool) -> Text:
    return Text("up", style="green") if up else Text("down", style="bold red")


def _status_line(frame: Frame, ports: Mapping[str, int]) -> Text:
    line = Text()
    for name, up in frame.up.items():
        line.append(f"{name} :{ports[name]} ")
        line.append_text(_state(up))
        line.append("   ")
    return line


def _orders(frame: Frame) -> Table:
    grid = Table.grid(padding=(0, 2))
    per_status = frame.settled_per_s
    settled = sum(per_status.values()) if per_status is not None else None
    by_status = ", ".join(f"{s} {r:.1f}/s" for s, r in (per_status or {}).items())
    grid.add_row("orders", f"created {_f(frame.created_per_s)}/s",
                 f"settled {_f(settled)}/s" + (f" ({by_status})" if by_status else ""),
                 f"settle p99 {_f(frame.settle_p99_s, '.2f')} s")
    grid.add_row("outbox", f"backlog {_f(frame.backlog, '.0f')}",
                 f"oldest {_f(frame.oldest_age_s, '.1f')} s   parked {_f(frame.parked, '.0f')}",
                 f"published {_f(frame.published_per_s)}/s")
    return grid


def _queues(frame: Frame) -> Table:
    table = Table("queue", "visible", "in flight", "DLQ", "handled/s", "lag p99 s",
                  title="queues", title_justify="left")
    for row in frame.queues:
        missing = "absent" if frame.up[EMULATOR] else "down"
        depth = ((str(row.depth.visible), str(row.depth.in_flight), str(row.depth.dlq))
                 if row.depth else (missing, DASH, DASH))
        dlq_style = "bold red" if row.depth and row.depth.dlq else ""
        table.add_row(row.queue, depth[0], depth[1], Text(depth[2], style=dlq_style),
                      _f(row.handled_per_s), _f(row.lag_p99_s, ".2f"))
    return table


def _apis(frame: Frame) -> Table:
    table = Table("api", "route", "req/s", "5xx/s", "p50 ms", "p99 ms",
                  title="APIs", title_justify="left")
    for row in frame.apis:
        table.add_row(row.api, "all routes" if row.route == "*" else row.route,
                      _f(row.per_s), _f(row.errors_per_s),
                      _f(row.p50_s, ".1f", 1000), _f(row.p99_s, ".1f", 1000))
    for api in APIS:
        if not frame.up.get(api):
            table.add_row(api, _state(False), DASH, DASH, DASH, DASH)
        elif not any(row.api == api for row in frame.apis):
            table.add_row(api, "no metrics", DASH, DASH, DASH, DASH)
    return table


def render(frame: Frame, ports: Mapping[str, int]) -> Group:
    """The whole view for one frame; ``ports`` by listener name, for the status line."""
    header = Text(f"order-platform on 127.0.0.1: rates and quantiles over the last "
                  f"{frame.seconds:.1f} s", style="bold")
    return Group(header, _status_line(frame, ports), Text(), _orders(frame), Text(),
                 _queues(frame), _apis(frame))
