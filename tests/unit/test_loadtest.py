"""`make load` without load: where it aims, when it refuses, how it sums up and judges a run
(its command line, which takes the local platform's port flags: tests/localplatform)."""

from __future__ import annotations

import pytest

from loadtest.summary import percentile, render, summarize
from loadtest.target import Target, is_loopback, refusal, resolve
from loadtest.thresholds import Limits, missed
from order_platform.processes import READ_API, WRITE_API


def test_the_default_target_is_the_local_platform_on_the_catalogue_ports():
    assert resolve() == Target(f"http://127.0.0.1:{WRITE_API.port}",
                               f"http://127.0.0.1:{READ_API.port}")
    moved = resolve(write_port=3010, read_port=3011)
    assert moved == Target("http://127.0.0.1:3010", "http://127.0.0.1:3011")


def test_api_url_is_a_load_balancer_host_with_one_listener_per_api():
    nlb = "my-nlb-xyz.elb.amazonaws.com"
    for given in (nlb, f"http://{nlb}", f"http://{nlb}/"):
        assert resolve(api_url=given) == Target(f"http://{nlb}:{WRITE_API.port}",
                                                f"http://{nlb}:{READ_API.port}")
    assert resolve(api_url=f"https://{nlb}").read_url == f"https://{nlb}:{READ_API.port}"
    assert resolve(api_url="http://[::1]").write_url == f"http://[::1]:{WRITE_API.port}"
    with pytest.raises(ValueError, match="names a port or a path"):
        resolve(api_url=f"http://{nlb}:8080")
    with pytest.raises(ValueError, match="not an http"):
        resolve(api_url="ftp://host")


def test_explicit_urls_win():
    target = resolve(api_url="nlb.example", write_url="http://127.0.0.1:9000/",
                     read_url="127.0.0.1:9001")
    assert target == Target("http://127.0.0.1:9000", "http://127.0.0.1:9001")


@pytest.mark.parametrize(("url", "loopback"), [
    ("http://127.0.0.1:3000", True), ("http://127.9.8.7", True), ("http://localhost:1", True),
    ("http://[::1]:3000", True), ("http://192.0.2.1:3000", False), ("http://10.0.0.1", False),
    ("http://localhost.example.com", False), ("http://my-nlb.elb.amazonaws.com", False),
])
def test_only_loopback_addresses_are_local(url, loopback):
    assert is_loopback(url) is loopback


def test_a_remote_target_needs_the_flag():
    remote = Target("http://192.0.2.1:3000", "http://127.0.0.1:3001")
    why = refusal(remote, allow_remote=False)
    assert "http://192.0.2.1:3000" in why and "127.0.0.1" not in why
    assert "--allow-remote" in why and "\n" not in why
    assert refusal(remote, allow_remote=True) is None
    assert refusal(resolve(), allow_remote=False) is None


def _entry(method, name, times, failures=0):
    """An entry as locust's --json-file writes it (response times in ms, keys as strings)."""
    return {"method": method, "name": name, "num_requests": sum(times.values()),
            "num_failures": failures, "response_times": {str(k): v for k, v in times.items()}}


SETTLE = {"seconds": 10.0, "placed": 25, "timed_out": 1,
          "settled": [["CONFIRMED", 0.2 + i / 100] for i in range(20)] + [["REJECTED", 2.0]]}


def test_the_summary_per_endpoint_and_for_the_orders():
    entries = [_entry("POST", "/orders", {5: 90, 40: 9, 300: 1}, failures=2),
               _entry("GET", "/orders/{order_id}", {3: 200, 10: 100})]
    summary = summarize(entries, SETTLE)
    post, get = (next(e for e in summary.endpoints if e.name == name)
                 for name in ("POST /orders", "GET /orders/{order_id}"))
    assert (post.requests, post.failures, post.rps) == (100, 2, 10.0)
    assert (post.p50_ms, post.p95_ms, post.p99_ms) == (5, 40, 40)
    assert (get.p50_ms, get.p99_ms) == (3, 10)
    assert (summary.total.requests, summary.total.rps) == (400, 40.0)
    assert summary.total.p99_ms == 40
    assert summary.error_rate == 2 / 400
    assert summary.settled == {"CONFIRMED": 20, "REJECTED": 1}
    assert summary.settled_per_s == 2.1
    assert summary.unsettled_at_stop == 25 - 21 - 1
    assert summary.settle_p50_ms == 300.0 and summary.settle_p95_ms == 390.0
    text = render(summary)
    assert "POST /orders" in text and "GET /orders/{order_id}" in text
    assert "2.1/s" in text and "21 settled (20 CONFIRMED, 1 REJECTED)" in text


def test_percentile_is_nearest_rank():
    assert percentile({}, 0.5) is None
    assert percentile({1.0: 1}, 0.99) == 1.0
    assert percentile({1: 50, 2: 49, 9: 1}, 0.99) == 2
    assert percentile({1: 50, 2: 49, 9: 1}, 1.0) == 9


def test_thresholds_name_each_miss():
    summary = summarize([_entry("POST", "/orders", {5: 90, 600: 10}, failures=5),
                         _entry("GET", "/products", {5: 100})], SETTLE)
    assert missed(summary, Limits()) == []
    assert missed(summary, Limits(max_error_rate=0.05, max_p99_ms=600, min_rps=20,
                                  min_settled_per_s=2, max_settle_p95_ms=400)) == []
    misses = missed(summary, Limits(max_error_rate=0.01, max_p99_ms=500, min_rps=21,
                                    min_settled_per_s=3, max_settle_p95_ms=100))
    assert misses == ["error rate 2.50% > 1.00%", "POST /orders p99 600 ms > 500 ms",
                      "total 20.0 req/s < 21 req/s", "orders settled 2.10/s < 3/s",
                      "settle p95 390 ms > 100 ms"]
    nothing_settled = summarize([], {"seconds": 5.0, "placed": 3, "timed_out": 3,
                                     "settled": []})
    assert missed(nothing_settled, Limits(max_settle_p95_ms=100)) == [
        "settle p95 (no order settled) > 100 ms"]
