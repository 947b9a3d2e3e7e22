"""The faults: each scenario takes orders, breaks something, puts it back, and is then
verified (``verify.verify``). Durations shrink with ``short`` for the copy in `make test`."""

from __future__ import annotations

import itertools
import json
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from order_local.chaos.load import OrderLoad
from order_local.chaos.platform import ChaosPlatform, Service, count_of
from order_platform.domain.access import Role

SEED_STOCK = 100_000


@dataclass
class Run:
    """One scenario's context: the platform, its products and load, and when the fault ended."""

    platform: ChaosPlatform
    short: bool
    outage_seconds: float
    rng: random.Random
    stock: dict[str, int] = field(default_factory=dict)
    load: OrderLoad | None = None
    fault_over_at: float = 0.0

    @property
    def write_url(self) -> str:
        """The write API."""
        return self.platform.services["write-api"].url

    def tokens(self, customer: str) -> str:
        """A token of ``customer`` from the local user pool."""
        return self.platform.backing.identity.customer_token(customer)

    @property
    def admin(self) -> dict[str, str]:
        """The Authorization header of a catalogue administrator."""
        token = self.platform.backing.identity.customer_token("chaos-admin", Role.ADMIN)
        return {"Authorization": f"Bearer {token}"}

    def products(self, count: int, stock: int = SEED_STOCK) -> list[str]:
        """New products for this scenario only (its invariants are counted over them)."""
        ids = []
        for _ in range(count):
            sku = f"CHAOS-{self.rng.getrandbits(48):012x}"
            for _attempt in range(30):  # as a careful client: a 503 says retry (bounded)
                response = requests.post(f"{self.write_url}/products", timeout=15,
                                         headers=self.admin, json={
                    "sku": sku, "name": "chaos", "price_cents": 100, "stock": stock})
                if response.status_code != 503:
                    break
                time.sleep(float(response.headers.get("Retry-After", "1")))
            response.raise_for_status()
            ids.append(response.json()["id"])
            self.stock[ids[-1]] = stock
        return ids

    def start_load(self, products: list[str], rate: float = 12) -> OrderLoad:
        """Orders for ``products`` in the background."""
        self.load = OrderLoad(self.write_url, products, rate=rate, tokens=self.tokens).start()
        return self.load

    def seconds(self, full: float, short: float) -> float:
        """A duration of the full run or of the short one."""
        return short if self.short else full

    def fault_over(self) -> None:
        """Mark now as the end of the fault: settling is measured from here."""
        self.fault_over_at = time.monotonic()


def _kill(name_of: Callable[[Run], str]) -> Callable[[Run], None]:
    def scenario(run: Run) -> None:
        load = run.start_load(run.products(4))
        time.sleep(run.rng.uniform(2, 4))
        service = run.platform.services[name_of(run)]
        service.kill()
        # Settling is measured from the kill: whatever the process held must come back.
        run.fault_over()
        load.stop_placing()
        time.sleep(run.rng.uniform(1, 2))
        service.start()
    return scenario


def _writer_restart(run: Run) -> None:
    load = run.start_load(run.products(4))
    time.sleep(2)
    run.platform.stop_writer()
    run.platform.start_writer()
    run.fault_over()
    time.sleep(2)
    load.stop_placing()


def _writer_outage_with_backlog(run: Run) -> None:
    """Workers running, a backlog queued, and the writer away for ``outage_seconds``."""
    platform = run.platform
    workers = [platform.services[name] for name in platform.worker_names()]
    products = run.products(4)
    for worker in workers:  # so that the orders queue up instead of being handled
        worker.signal_tree(signal.SIGSTOP)
    try:
        run.load = load = OrderLoad(run.write_url, products, tokens=run.tokens)
        load.place_now(int(run.seconds(60, 20)))
        _wait_outbox_published(platform)
        platform.stop_writer()
    finally:
        for worker in workers:
            worker.signal_tree(signal.SIGCONT)
    time.sleep(run.outage_seconds)
    platform.start_writer()
    run.fault_over()


def _frozen_writer(run: Run) -> None:
    load = run.start_load(run.products(4))
    time.sleep(2)
    run.platform.freeze_writer()
    time.sleep(run.seconds(20, 8))
    run.platform.thaw_writer()
    run.fault_over()
    time.sleep(2)
    load.stop_placing()


def _frozen_worker_mid_transaction(run: Run) -> None:
    """A worker stopped while it holds a transaction open, as orders keep arriving."""
    load = run.start_load(run.products(2), rate=20)
    worker = _freeze_a_worker_in_a_transaction(run.platform)
    time.sleep(run.seconds(15, 8))
    worker.signal_tree(signal.SIGCONT)
    run.fault_over()
    time.sleep(2)
    load.stop_placing()


def _reader_away(run: Run) -> None:
    load = run.start_load(run.products(4))
    time.sleep(2)
    run.platform.stop_reader()
    time.sleep(run.seconds(20, 8))
    run.platform.start_reader()
    run.fault_over()
    time.sleep(2)
    load.stop_placing()


def _aws_hangs(run: Run) -> None:
    load = run.start_load(run.products(4))
    time.sleep(2)
    run.platform.hang_aws()
    time.sleep(run.seconds(20, 8))
    run.platform.resume_aws()
    run.fault_over()
    time.sleep(2)
    load.stop_placing()


def _aws_refuses(run: Run) -> None:
    load = run.start_load(run.products(4))
    time.sleep(2)
    run.platform.proxy.refuse()
    time.sleep(run.seconds(20, 8))
    run.platform.proxy.accept()
    run.fault_over()
    time.sleep(2)
    load.stop_placing()


def _duplicate_injection(run: Run) -> None:
    """Every event is published a second time, with the same event_id."""
    load = run.start_load(run.products(4))
    time.sleep(run.seconds(8, 4))
    load.stop_placing()
    _wait_outbox_published(run.platform)
    events = run.platform.aws("events")
    with run.platform.writer_query() as cur:
        cur.execute("SELECT event_type, source, detail FROM outbox ORDER BY id")
        rows = cur.fetchall()
    bus = run.platform.contract["EVENT_BUS_NAME"]
    for start in range(0, len(rows), 10):
        events.put_events(Entries=[{
            "EventBusName": bus, "Source": r["source"], "DetailType": r["event_type"],
            "Detail": json.dumps(r["detail"])} for r in rows[start:start + 10]])
    run.fault_over()


def _flash_sale(run: Run) -> None:
    """Far more buyers than stock for one product, all at once."""
    (product,) = run.products(1, stock=25)
    run.load = load = OrderLoad(run.write_url, [product], clients=32, tokens=run.tokens)
    load.place_now(int(run.seconds(120, 60)))
    run.fault_over()


def _wait_outbox_published(platform: ChaosPlatform, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with platform.writer_query() as cur:
            cur.execute("SELECT count(*) AS n FROM outbox WHERE published_at IS NULL")
            if count_of(cur) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError("the relay did not publish the outbox")


HELD_SECONDS = 0.5
"""How long a stopped worker's transaction must stay open to count as the stopped one's: a
running worker's transactions last milliseconds."""


def _freeze_a_worker_in_a_transaction(platform: ChaosPlatform, within: float = 60) -> Service:
    """SIGSTOP a worker at a moment its database session is inside a transaction.

    The writer sees every connection through its TLS front, over the server's socket, so no
    backend can be told from another by its client's port. So whenever some worker's
    transaction is open, one worker (in turn) is stopped, and kept stopped if a worker's
    transaction is still open ``HELD_SECONDS`` later: the stopped one's, or another's waiting
    on its locks. A worker's transaction is a few round trips, so this samples as fast as it
    can for up to ``within`` seconds rather than a fixed number of times."""
    workers = itertools.cycle([platform.services[n] for n in platform.worker_names()])
    deadline = time.monotonic() + within
    with platform.writer_query() as cur:  # one connection for the whole search
        while time.monotonic() < deadline:
            if not _worker_transactions(cur, open_for=0.0):
                continue
            worker = next(workers)
            worker.signal_tree(signal.SIGSTOP)
            time.sleep(HELD_SECONDS)
            if _worker_transactions(cur, open_for=HELD_SECONDS):
                return worker
            worker.signal_tree(signal.SIGCONT)
    raise RuntimeError(f"never caught a worker inside a transaction in {within:.0f} s")


def _worker_transactions(cur, *, open_for: float) -> bool:
    """Whether a worker's session has had a transaction open for ``open_for`` seconds (``cur``
    on the writer, in autocommit: ``now()`` is each query's own time)."""
    cur.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = "
                "'order-worker' AND xact_start <= now() - make_interval(secs => %s)",
                (open_for,))
    return count_of(cur) > 0


@dataclass(frozen=True)
class Scenario:
    """A named fault."""

    name: str
    what: str
    run: Callable[[Run], None]


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("kill-write-api", "kill -9 of the write API under load, restarted 1-2 s later",
             _kill(lambda run: "write-api")),
    Scenario("kill-read-api", "kill -9 of the read API under load, restarted 1-2 s later",
             _kill(lambda run: "read-api")),
    Scenario("kill-worker", "kill -9 of one worker under load, restarted 1-2 s later",
             _kill(lambda run: run.rng.choice(run.platform.worker_names()))),
    Scenario("kill-relay", "kill -9 of the relay under load, restarted 1-2 s later",
             _kill(lambda run: "relay")),
    Scenario("writer-restart", "the writer restarts under load", _writer_restart),
    Scenario("writer-outage-backlog", "a queued backlog, workers running, the writer away",
             _writer_outage_with_backlog),
    Scenario("frozen-writer", "every writer process SIGSTOPped under load", _frozen_writer),
    Scenario("frozen-worker-in-transaction",
             "a worker stopped inside a transaction while orders arrive",
             _frozen_worker_mid_transaction),
    Scenario("reader-away", "the reader stops; the writer stays", _reader_away),
    Scenario("aws-hangs", "the AWS emulator SIGSTOPped under load", _aws_hangs),
    Scenario("aws-refuses", "the AWS endpoint refuses connections under load", _aws_refuses),
    Scenario("duplicate-events", "every event published again with the same event_id",
             _duplicate_injection),
    Scenario("flash-sale", "more buyers than stock for one product, at once", _flash_sale),
)
SHORT = ("writer-outage-backlog", "kill-worker")
"""The scenarios `make test` runs, shortened."""
