"""The monthly estimate, from the resources the program synthesizes for each stack."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from cost import assumptions, context, report, traffic
from cost.estimate import UnpricedResourceError, estimate
from cost.prices import PRICES_FILE, MissingPriceError, load_prices
from cost.rules import FREE, RULES
from infra.simulation import run_stack, stack_names, typed_config
from tests.policies.stacks import shipped_run

PRICES = load_prices()
HOURS = assumptions.HOURS_PER_MONTH


def estimate_of(run):
    return estimate(run, typed_config(run), PRICES)


@pytest.mark.parametrize("stack", stack_names())
def test_every_resource_type_of_every_stack_is_priced_or_known_to_be_free(stack):
    run = shipped_run(stack)
    types = {r.type for r in run.resources
             if not r.type.startswith(("pulumi:providers:", "order-platform:"))}
    assert types - set(RULES) - FREE == set()
    assert estimate_of(run).total > 0


@pytest.mark.parametrize("stack", stack_names())
def test_adding_a_reader_raises_the_estimate_by_exactly_that_readers_price(stack):
    base_run = shipped_run(stack)
    readers = typed_config(base_run).db_reader_count
    more = run_stack(stack, {"dbReaderCount": readers + 1})
    base, grown = estimate_of(base_run), estimate_of(more)
    new_reader = f"order-platform-{stack}-reader-{readers + 1}"
    its_lines = [line for line in grown.lines if line.resource == new_reader]
    instance_class = typed_config(more).db_instance_class
    hourly = json.loads(PRICES_FILE.read_text())["prices"][
        f"rds:aurora-postgresql-hour:{instance_class}"]
    assert [(line.quantity, line.unit_price) for line in its_lines
            if line.kind == "rds:aurora-postgresql-hour"] == [(HOURS, hourly)]
    assert grown.total - base.total == pytest.approx(sum(line.monthly for line in its_lines))
    assert {(mark, resource) for mark, resource, *_ in report.changes(grown, base)} == {
        ("+", f"reader-{readers + 1}")}


def test_request_priced_lines_scale_with_orders_per_second():
    base = estimate_of(shipped_run("staging"))
    busier = estimate_of(run_stack("staging", {"ordersPerSecond": 4}))
    assert base.orders_per_second == 2

    def monthly(found, resource, kind):
        return sum(line.monthly for line in found.lines
                   if line.resource == f"order-platform-staging-{resource}" and line.kind == kind)

    admin = assumptions.ADMIN_EVENTS_PER_MONTH / 1e6  # catalogue events do not follow orders
    assert monthly(busier, "bus", "events:custom-event-million") - admin == pytest.approx(
        2 * (monthly(base, "bus", "events:custom-event-million") - admin))
    assert monthly(busier, "eks", "eks:cluster-hour") == monthly(base, "eks", "eks:cluster-hour")
    assert busier.total > base.total


def test_karpenter_runs_the_pods_of_the_capacity_model_on_the_cheapest_allowed_type():
    run = shipped_run("prod")
    config = typed_config(run)
    pool = [line for line in estimate_of(run).lines
            if line.resource == "order-platform-prod-karpenter-node-pool"
            and line.kind == "ec2:instance-hour"]
    cheapest = min(config.node_pool_instance_types,
                   key=lambda t: PRICES[f"ec2:instance-hour:{t}"])
    # At 20 orders/s every HPA sits at its minimum (3/3/3/2 pods and the collector fit on one
    # m6i.xlarge), and the Deployments of three pods spread over the three zones.
    assert [(line.quantity, line.price_key) for line in pool] == [
        (3 * HOURS, f"ec2:instance-hour:{cheapest}")]
    assert context.pods_running(run, 20) == {"write-api": 3, "read-api": 3, "worker": 3,
                                             "relay": 2}


def test_more_orders_need_more_pods_and_nodes_up_to_the_hpa_maxima():
    base = shipped_run("staging")
    busy = run_stack("staging", {"ordersPerSecond": 600})
    # 600 orders/s take 3 / 7 / 9 / 3 pods (infra.capacity.pods_at); staging's HPAs stop the
    # read API at 6, the worker at 4 and the relay at 2.
    assert context.pods_running(busy, 600) == {"write-api": 3, "read-api": 6, "worker": 4,
                                               "relay": 2}
    nodes = [sum(line.quantity for line in estimate_of(run).lines
                 if line.resource.endswith("karpenter-node-pool")
                 and line.kind == "ec2:instance-hour") for run in (base, busy)]
    assert nodes == [2 * HOURS, 3 * HOURS]


def test_events_per_order_come_from_the_topology_and_admin_events_are_not_per_order():
    assert [e.name for e in traffic.per_order_events()] == [
        "OrderCreated", "StockValidated", "InventoryUpdated"]
    bus = next(line for line in estimate_of(shipped_run("staging")).lines
               if line.kind == "events:custom-event-million")
    orders = 2 * assumptions.SECONDS_PER_MONTH
    assert bus.quantity == pytest.approx((3 * orders + assumptions.ADMIN_EVENTS_PER_MONTH) / 1e6)


def test_sqs_requests_follow_the_consumers_batches():
    from order_platform.adapters.queues import MAX_BATCH

    idle = traffic.sqs_requests_per_second(0, consumers=2, wait_seconds=20)
    assert idle == pytest.approx(2 / 20), "idle consumers long-poll once per wait"
    slow = traffic.sqs_requests_per_second(1, consumers=1, wait_seconds=20)
    assert slow == pytest.approx(1 + 1 + 1), "send, one receive and one delete per message"
    busy = traffic.sqs_requests_per_second(10_000, consumers=10, wait_seconds=20)
    assert busy == pytest.approx(10_000 * (1 + 2 / MAX_BATCH)), "full batches"


def test_the_missing_lines_are_priced():
    lines = estimate_of(shipped_run("prod")).lines
    kinds = {line.kind for line in lines}
    assert {"ec2:cross-az-gb", "ec2:internet-egress-gb", "rds:aurora-backup-gb-month"} <= kinds
    backup = next(line for line in lines if line.kind == "rds:aurora-backup-gb-month")
    longer = next(line for line in estimate_of(run_stack("prod", {"dbBackupRetentionDays": 35}))
                  .lines if line.kind == "rds:aurora-backup-gb-month")
    assert longer.quantity == pytest.approx(backup.quantity * 35 / 30)


@pytest.mark.parametrize(("stack", "gateways"), [("dev", 1), ("prod", 3)])
def test_nat_gateways_follow_the_strategy(stack, gateways):
    lines = [line for line in estimate_of(shipped_run(stack)).lines
             if line.kind == "vpc:nat-gateway-hour"]
    assert len(lines) == gateways
    assert sum(line.quantity for line in lines) == gateways * HOURS


def test_a_type_without_a_rule_stops_the_estimate():
    run = copy.deepcopy(shipped_run("dev"))
    vpc, = run.of_type("aws:ec2/vpc:Vpc")
    run.resources.append(dataclasses.replace(vpc, type="aws:ec2/instance:Instance",
                                             name="stray"))
    with pytest.raises(UnpricedResourceError, match="aws:ec2/instance:Instance"):
        estimate_of(run)


def test_a_missing_price_names_its_key_and_how_to_add_it():
    run = shipped_run("dev")
    prices = dataclasses.replace(PRICES, prices={k: v for k, v in PRICES.prices.items()
                                                 if k != "eks:cluster-hour:STANDARD"})
    with pytest.raises(MissingPriceError, match=r"eks:cluster-hour:STANDARD.*cost\.pricelist"):
        estimate(run, typed_config(run), prices)


def test_the_table_says_where_its_prices_come_from_and_the_report_repeats_it():
    assert (PRICES.region, PRICES.currency) == ("eu-west-1", "USD")
    assert PRICES.date and "Price List API" in PRICES.source
    text = report.table(estimate_of(shipped_run("dev")))
    assert f"prices of {PRICES.date}" in text and PRICES.source in text
    assert "1 orders/s" in text.splitlines()[0]
    total_line = next(line for line in text.splitlines() if line.startswith("total"))
    assert total_line.split()[-1] == f"{estimate_of(shipped_run('dev')).total:,.2f}"
