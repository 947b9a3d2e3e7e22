"""Who the load is: shoppers, who browse the catalogue, place orders and follow each one to its
final status; and one stock keeper, who restocks every second.

Run by ``python -m loadtest`` (`make load`), which creates the products this file orders
(``--skus``), passes both APIs' URLs and reads back what it records. Every request is named by
its route template, so the statistics are per endpoint, not per id. Only the run's own
products are ordered and restocked. Every request carries the run's machine token
(``loadtest.credentials``): the orders are that client's, the restocks its admin scope's.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
import uuid

from locust import FastHttpUser, between, constant, events, task

from loadtest.credentials import TOKEN_ENV
from loadtest.target import Target, refusal

FINAL_STATUSES = frozenset({"CONFIRMED", "REJECTED"})
PAGE_SIZE = 20
RESTOCK_QUANTITY = 100


class SettleLog:
    """Every order this process placed, and how each one ended, for the summary."""

    def __init__(self) -> None:
        self.placed = 0
        self.settled: list[tuple[str, float]] = []
        """(final status, seconds from sending the POST to seeing it)"""
        self.timed_out = 0
        self.started = self.stopped = 0.0

    def record(self, path: str) -> None:
        """Write what was seen as JSON (read by loadtest.summary)."""
        with open(path, "w", encoding="utf-8") as out:
            json.dump({"seconds": self.stopped - self.started, "placed": self.placed,
                       "settled": self.settled, "timed_out": self.timed_out}, out)


SETTLES = SettleLog()
AUTHORIZATION = {"Authorization": f"Bearer {os.environ.get(TOKEN_ENV, '')}"}


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument("--read-url", required=True, help="the read API's base URL")
    parser.add_argument("--skus", required=True, help="comma-separated SKUs to order")
    parser.add_argument("--run-id", required=True, help="names the run")
    parser.add_argument("--settle-file", required=True, help="where to write the settle log")
    parser.add_argument("--poll-interval", type=float, default=0.25)
    parser.add_argument("--settle-timeout", type=float, default=30.0)
    parser.add_argument("--allow-remote", action="store_true")


@events.init.add_listener
def _refuse_remote(environment, **_) -> None:
    # The same guard as the runner's, for anyone who starts locust on this file by hand.
    opts = environment.parsed_options
    why = refusal(Target(opts.host or "", opts.read_url), opts.allow_remote)
    if why:
        logging.error(why)
        raise SystemExit(2)


@events.test_start.add_listener
def _started(**_) -> None:
    SETTLES.started = time.monotonic()


@events.test_stopping.add_listener
def _stopping(**_) -> None:
    SETTLES.stopped = time.monotonic()


@events.test_stop.add_listener
def _stopped(environment, **_) -> None:
    SETTLES.record(environment.parsed_options.settle_file)


class Shopper(FastHttpUser):
    """A customer of the shop: mostly looks, sometimes buys and watches the order."""

    wait_time = between(0.2, 1.0)
    default_headers = AUTHORIZATION

    def on_start(self) -> None:
        opts = self.environment.parsed_options
        self.read_url = opts.read_url.rstrip("/")
        self.skus = opts.skus.split(",")
        self.cursor: str | None = None

    def _read(self, path: str, name: str | None = None, **kwargs):
        """A GET on the read API; a 404 with Retry-After is the reader catching up, not an
        error (docs/api.md, read-after-write)."""
        resp = self.client.get(f"{self.read_url}{path}", name=name or path,
                               catch_response=True, **kwargs)
        with resp:
            if (resp.status_code == 404 and resp.headers is not None
                    and resp.headers.get("Retry-After")):
                resp.success()
            elif resp.status_code != 200:
                resp.failure(f"{resp.status_code}")
        return resp

    @task(3)
    def browse_catalogue(self) -> None:
        """The next page of the catalogue, from the start once the last page is reached."""
        params = {"limit": PAGE_SIZE, **({"cursor": self.cursor} if self.cursor else {})}
        resp = self._read("/products", params=params)
        self.cursor = resp.json().get("next_cursor") if resp.status_code == 200 else None

    @task(4)
    def view_product(self) -> None:
        """One product page."""
        self._read(f"/products/{random.choice(self.skus)}", "/products/{ref}")

    @task(1)
    def my_orders(self) -> None:
        """The customer's latest orders (the token's)."""
        self._read("/orders", params={"limit": PAGE_SIZE})

    @task(3)
    def place_order(self) -> None:
        """Buy one to three of the run's products, poll the order until it is final, then
        look at the order list, as a shopper does once the order is through."""
        items = [{"sku": sku, "quantity": random.randint(1, 2)}
                 for sku in random.sample(self.skus, random.randint(1, min(3, len(self.skus))))]
        sent = time.monotonic()
        with self.client.post("/orders", name="/orders", catch_response=True,
                              headers={"Idempotency-Key": str(uuid.uuid4())},
                              json={"items": items}) as resp:
            if resp.status_code != 202:
                resp.failure(f"{resp.status_code}")
                return
            order_id = resp.json()["id"]
            # A traced deployment names the order's trace: the polls join it.
            trace = resp.headers.get("traceresponse")
        SETTLES.placed += 1
        if self._follow(order_id, sent, {"traceparent": trace} if trace else {}):
            self.my_orders()

    def _follow(self, order_id: str, sent: float, headers: dict[str, str]) -> bool:
        """Poll until the order is final (True) or the settle timeout passes (False)."""
        # A fixed short interval rather than Retry-After's whole second: the settle time is
        # measured at the resolution of the polling.
        opts = self.environment.parsed_options
        while time.monotonic() - sent < opts.settle_timeout:
            time.sleep(opts.poll_interval)
            resp = self._read(f"/orders/{order_id}", "/orders/{order_id}", headers=headers)
            if resp.status_code == 200 and resp.json()["status"] in FINAL_STATUSES:
                SETTLES.settled.append((resp.json()["status"], time.monotonic() - sent))
                return True
        SETTLES.timed_out += 1
        return False


class StockKeeper(FastHttpUser):
    """The one person who restocks the run's products, so that orders keep confirming."""

    fixed_count = 1
    wait_time = constant(1.0)
    default_headers = AUTHORIZATION

    @task
    def restock(self) -> None:
        """Stock arrives for one of the run's products."""
        sku = random.choice(self.environment.parsed_options.skus.split(","))
        with self.client.post(f"/products/{sku}/stock", name="/products/{ref}/stock",
                              catch_response=True,
                              json={"mode": "add", "quantity": RESTOCK_QUANTITY}) as resp:
            if resp.status_code != 200:
                resp.failure(f"{resp.status_code}")
