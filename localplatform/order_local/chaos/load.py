"""A bounded order load, placed as a careful client would: each order has its own
Idempotency-Key and is retried with it until the API acknowledges it (202), so an answer lost
to a crash or an outage never becomes a lost or a duplicated order."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

GIVE_UP_SECONDS = 180
"""How long one order is retried before the client gives up on it (never, in practice)."""


@dataclass
class Tally:
    """What the clients saw."""

    acknowledged: dict[str, dict] = field(default_factory=dict)
    """order id -> {customer_id, items}"""
    statuses: Counter = field(default_factory=Counter)
    """HTTP status (or 'error' for no answer) -> count, every attempt."""
    given_up: int = 0
    missing_retry_after: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def unexpected_5xx(self) -> int:
        """5xx other than 503: a 503 is the documented answer to an unavailable database."""
        return sum(n for status, n in self.statuses.items()
                   if isinstance(status, int) and status >= 500 and status != 503)


Tokens = Callable[[str], str]
"""A customer's bearer token, by customer id."""


def place(write_url: str, items: list[dict], tally: Tally, stop: threading.Event,
          tokens: Tokens) -> None:
    """Place one order as a new customer, retrying with the same key until acknowledged
    (bounded)."""
    customer = f"chaos-{uuid.uuid4().hex[:12]}"
    key = str(uuid.uuid4())
    body = {"items": items}
    headers = {"Idempotency-Key": key, "Authorization": f"Bearer {tokens(customer)}"}
    give_up = time.monotonic() + GIVE_UP_SECONDS
    attempt = 0
    while time.monotonic() < give_up and not stop.is_set():
        attempt += 1
        try:
            response = requests.post(f"{write_url}/orders", json=body, timeout=15,
                                     headers=headers)
        except requests.RequestException:
            with tally.lock:
                tally.statuses["error"] += 1
            stop.wait(min(2.0, 0.2 * attempt))
            continue
        with tally.lock:
            tally.statuses[response.status_code] += 1
            if response.status_code == 503 and "Retry-After" not in response.headers:
                tally.missing_retry_after += 1
        if response.status_code == 202:
            with tally.lock:
                tally.acknowledged[response.json()["id"]] = {"customer_id": customer,
                                                             "items": items}
            return
        if response.status_code < 500:
            return  # refused for good (a 4xx): not an acknowledged order
        stop.wait(min(float(response.headers.get("Retry-After", "1")), 2.0))
    with tally.lock:
        tally.given_up += 1


class OrderLoad:
    """``clients`` threads placing orders for ``products`` at about ``rate`` per second, each
    as a customer of its own (``tokens``)."""

    def __init__(self, write_url: str, products: list[str], *, tokens: Tokens,
                 rate: float = 10, clients: int = 8, quantity: int = 1) -> None:
        self.write_url = write_url
        self.tokens = tokens
        self.products = products
        self.rate = rate
        self.clients = clients
        self.quantity = quantity
        self.tally = Tally()
        self._stop = threading.Event()
        self._placing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._tickets = itertools.count()

    def place_now(self, count: int) -> None:
        """Place ``count`` orders at once, and wait until each is acknowledged or given up."""
        threads = [threading.Thread(target=place, args=(self.write_url, self._items(),
                                                        self.tally, self._stop, self.tokens))
                   for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def start(self) -> OrderLoad:
        """Keep placing orders in the background until ``stop``."""
        self._placing.set()
        for _ in range(self.clients):
            thread = threading.Thread(target=self._client, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop_placing(self) -> None:
        """Place no new orders; the ones in progress go on until acknowledged."""
        self._placing.clear()

    def stop(self) -> Tally:
        """Stop placing new orders; wait for the ones in progress to be acknowledged."""
        self._placing.clear()
        for thread in self._threads:
            thread.join(GIVE_UP_SECONDS + 30)
        return self.tally

    def abandon(self) -> None:
        """Stop everything at once (the run is being cut short)."""
        self._stop.set()
        self._placing.clear()

    def _client(self) -> None:
        interval = self.clients / self.rate
        while self._placing.is_set() and not self._stop.is_set():
            started = time.monotonic()
            place(self.write_url, self._items(), self.tally, self._stop, self.tokens)
            self._stop.wait(max(0.0, interval - (time.monotonic() - started)))

    def _items(self) -> list[dict]:
        product = self.products[next(self._tickets) % len(self.products)]
        return [{"product_id": product, "quantity": self.quantity}]
