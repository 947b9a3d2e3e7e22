"""The invariants, counted after the platform settles: Jepsen-style, one line per scenario."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from order_local.chaos.load import Tally
from order_local.chaos.platform import ChaosPlatform, count_of
from order_platform import topology

FINAL = ("CONFIRMED", "REJECTED")
SETTLE_TIMEOUT_SECONDS = 180
MAX_RECEIVES_PER_FAULT = 3
"""A fault may cost a message a receive or two (a killed or frozen worker's lease runs out),
never a budget's worth: a dependency outage must cost none, however long."""


@dataclass
class Result:
    """What one scenario did to the orders it placed."""

    scenario: str
    acknowledged: int = 0
    lost: int = 0
    """Acknowledged, then missing on the writer, or never settled; or an effect missing."""
    dead_letters: int = 0
    duplicated: int = 0
    """An order placed twice for one key, a status applied twice, or stock taken twice."""
    oversold: int = 0
    unexpected_5xx: int = 0
    unavailable_503: int = 0
    settle_seconds: float | None = None
    """From the end of the fault until every acknowledged order was final."""
    max_receives: int = 0
    """The most times SQS delivered one of the scenario's events before it was handled."""
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every invariant held."""
        return (self.acknowledged > 0 and self.lost == 0 and self.dead_letters == 0
                and self.duplicated == 0 and self.oversold == 0 and self.unexpected_5xx == 0
                and self.settle_seconds is not None
                and self.max_receives <= MAX_RECEIVES_PER_FAULT)

    def line(self) -> str:
        """The one line ``make chaos`` prints."""
        settled = "never" if self.settle_seconds is None else f"{self.settle_seconds:.1f}s"
        notes = f"  ({'; '.join(self.notes)})" if self.notes else ""
        return (f"{self.scenario:<30} acknowledged={self.acknowledged:<4} lost={self.lost} "
                f"dlq={self.dead_letters} duplicated={self.duplicated} "
                f"oversold={self.oversold} 5xx={self.unexpected_5xx} "
                f"(503={self.unavailable_503}) settled_in={settled:<7} "
                f"max_receives={self.max_receives} "
                f"{'OK' if self.ok else 'FAILED'}{notes}")


def dead_letters(platform: ChaosPlatform) -> int:
    """Messages in every DLQ of the topology: the queues' own and the rule targets'."""
    sqs = platform.aws("sqs")
    prefix = platform.contract["EVENT_BUS_NAME"].removesuffix(f"-{topology.BUS_BASE_NAME}")
    total = 0
    for queue in topology.QUEUES:
        for name in (queue.dlq_name(prefix),
                     topology.route_for_queue(queue).target_dlq_name(prefix)):
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
            total += sum(int(v) for v in attrs["Attributes"].values())
    return total


def settle(platform: ChaosPlatform, order_ids: list[str], since: float,
           timeout: float = SETTLE_TIMEOUT_SECONDS) -> float | None:
    """Seconds from ``since`` until every order is final; None if they never were."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with platform.writer_query() as cur:
            cur.execute("SELECT count(*) AS n FROM orders WHERE id = ANY(%s::uuid[]) "
                        "AND status = ANY(%s)", (order_ids, list(FINAL)))
            if count_of(cur) == len(order_ids):
                return time.monotonic() - since
        time.sleep(0.2)
    return None


def verify(platform: ChaosPlatform, scenario: str, tally: Tally, stock: dict[str, int], *,
           fault_over_at: float, dead_letters_before: int) -> Result:
    """Settle, then count every invariant over the orders and products of one scenario."""
    ids = sorted(tally.acknowledged)
    result = Result(scenario, acknowledged=len(ids), unexpected_5xx=tally.unexpected_5xx,
                    unavailable_503=tally.statuses.get(503, 0))
    result.settle_seconds = settle(platform, ids, fault_over_at) if ids else None
    if tally.given_up:
        result.lost += tally.given_up
        result.notes.append(f"{tally.given_up} orders never acknowledged")
    if tally.missing_retry_after:
        result.unexpected_5xx += tally.missing_retry_after
        result.notes.append("503 without Retry-After")
    customers = [o["customer_id"] for o in tally.acknowledged.values()]
    with platform.writer_query() as cur:
        cur.execute("SELECT id::text AS id, status FROM orders WHERE id = ANY(%s::uuid[])",
                    (ids,))
        statuses = {row["id"]: row["status"] for row in cur.fetchall()}
        result.lost += sum(1 for i in ids if statuses.get(i) not in FINAL)
        cur.execute("SELECT count(*) AS n FROM (SELECT customer_id FROM orders WHERE "
                    "customer_id = ANY(%s) GROUP BY customer_id HAVING count(*) > 1) twice",
                    (customers,))
        result.duplicated += count_of(cur)
        cur.execute("SELECT count(*) AS n FROM (SELECT order_id, status FROM "
                    "order_status_history WHERE order_id = ANY(%s::uuid[]) GROUP BY 1, 2 "
                    "HAVING count(*) > 1) twice", (ids,))
        result.duplicated += count_of(cur)
        _count_stock(cur, stock, result)
    result.dead_letters = dead_letters(platform) - dead_letters_before
    result.max_receives = max_receives(platform, set(ids))
    return result


def max_receives(platform: ChaosPlatform, order_ids: set[str]) -> int:
    """The highest receive count the workers logged for an event of these orders."""
    most = 0
    for name in platform.worker_names():
        for line in platform.services[name].log_path.read_text().splitlines():
            if '"event handled"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("order_id") in order_ids:
                most = max(most, int(record.get("receive_count", 0)))
    return most


def _count_stock(cur, stock: dict[str, int], result: Result) -> None:
    """Stock conservation per product: what left the shelf is what was sold, no more."""
    cur.execute(
        "SELECT p.id::text AS id, p.stock, coalesce(sum(l.quantity) FILTER ("
        "WHERE o.status = 'CONFIRMED'), 0) AS sold FROM products p "
        "LEFT JOIN order_lines l ON l.product_id = p.id LEFT JOIN orders o ON o.id = l.order_id "
        "WHERE p.id = ANY(%s::uuid[]) GROUP BY p.id, p.stock", (list(stock),))
    for row in cur.fetchall():
        initial, taken, sold = stock[row["id"]], stock[row["id"]] - row["stock"], row["sold"]
        if sold > initial or row["stock"] < 0:
            result.oversold += 1
        if taken > sold:
            result.duplicated += 1
            result.notes.append(f"product {row['id'][:8]}: {taken} taken, {sold} sold")
        elif taken < sold:
            result.lost += 1
            result.notes.append(f"product {row['id'][:8]}: {sold} sold, only {taken} taken")
