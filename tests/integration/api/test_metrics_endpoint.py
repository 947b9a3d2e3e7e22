"""/metrics on the APIs: Prometheus text for scrapers inside the network, nothing for the
internet; requests counted by route template, never by raw path."""

from __future__ import annotations

import uuid

from order_platform import telemetry as t
from tests.support.scrape import delta, labels_of, parse

PUBLIC = {"REMOTE_ADDR": "8.8.8.8"}  # only a label: no traffic leaves the test client
REQUESTS = t.HTTP_REQUESTS.name


def test_metrics_answer_prometheus_text_to_private_addresses(read_client):
    response = read_client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    samples = parse(response.get_data(as_text=True))
    assert labels_of(samples, t.DB_POOL_SIZE.name) == [{"endpoint": "reader"}]


def test_metrics_are_not_served_to_a_public_address(read_client):
    response = read_client.get("/metrics", environ_base=PUBLIC)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_requests_are_counted_by_route_template_and_status(read_client):
    before = parse(read_client.get("/metrics").get_data(as_text=True))
    for _ in range(3):
        assert read_client.get(f"/orders/{uuid.uuid4()}").status_code == 404
    read_client.get(f"/no-such-path/{uuid.uuid4()}")
    read_client.open("/healthz", method="BREW")
    after = parse(read_client.get("/metrics").get_data(as_text=True))
    routes = {labels["route"] for labels in labels_of(after, REQUESTS)}
    assert not any("-" in route and "<" not in route for route in routes), routes  # no raw ids
    order_route = next(r for r in routes if r.startswith("/orders/<"))
    assert delta(before, after, REQUESTS, route=order_route, method="GET", status="404") == 3
    assert delta(before, after, REQUESTS, route="unmatched", status="404") == 1
    assert delta(before, after, REQUESTS, method="OTHER") == 1
    # The scrapes themselves are not requests of the API.
    assert delta(before, after, REQUESTS, route=t.METRICS_PATH) == 0
