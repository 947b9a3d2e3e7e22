"""The price-table generator, against GetProducts pages in the documented response format."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from cost import pricelist
from cost.prices import PRICES_FILE

SAMPLE = json.loads((Path(__file__).parent / "pricelist_sample.json").read_text())["pages"]


class FakePricing:
    """Stands in for boto3's pricing client: answers from recorded pages, records the calls."""

    def __init__(self, pages_by_service):
        self.pages_by_service = pages_by_service
        self.calls = []

    def get_products(self, **kwargs):
        self.calls.append(kwargs)
        pages = self.pages_by_service[kwargs["ServiceCode"]]
        index = int(kwargs.get("NextToken", "0"))
        page = dict(pages[index])
        if index + 1 < len(pages):
            page["NextToken"] = str(index + 1)
        return page


def test_an_instance_hour_is_read_from_the_on_demand_terms():
    client = FakePricing({"AmazonEC2": [SAMPLE["ec2"]]})
    query = pricelist.queries("eu-west-1")["ec2:instance-hour:m6i.large"]
    assert pricelist.fetch("ec2:instance-hour:m6i.large", query, client.get_products) == 0.107
    filters = {f["Field"]: f["Value"] for f in client.calls[0]["Filters"]}
    assert filters["instanceType"] == "m6i.large" and filters["regionCode"] == "eu-west-1"
    assert {f["Type"] for f in client.calls[0]["Filters"]} == {"TERM_MATCH"}


def test_a_tiered_price_takes_the_first_paid_tier_per_million_requests():
    client = FakePricing({"AWSQueueService": [SAMPLE["sqs"]]})
    query = pricelist.queries("eu-west-1")["sqs:request-million"]
    assert query.filters["usagetype"] == "EU-Requests-Tier1"
    assert pricelist.fetch("sqs:request-million", query, client.get_products) == pytest.approx(0.4)


def test_every_page_is_read_and_two_products_are_an_error_naming_the_key():
    client = FakePricing({"AmazonEC2": [SAMPLE["ec2"], SAMPLE["ec2"]]})
    query = pricelist.queries("eu-west-1")["ec2:instance-hour:m6i.large"]
    with pytest.raises(pricelist.PriceListError, match=r"ec2:instance-hour:m6i\.large: 2 products"):
        pricelist.fetch("ec2:instance-hour:m6i.large", query, client.get_products)
    assert [call.get("NextToken") for call in client.calls] == [None, "1"]


def test_no_product_is_an_error_not_a_zero():
    client = FakePricing({"AmazonEKS": [{"FormatVersion": "aws_v1", "PriceList": []}]})
    query = pricelist.queries("eu-west-1")["eks:cluster-hour:STANDARD"]
    with pytest.raises(pricelist.PriceListError, match="0 products"):
        pricelist.fetch("eks:cluster-hour:STANDARD", query, client.get_products)


def test_the_table_is_written_with_its_region_date_and_source():
    client = FakePricing({"AmazonEC2": [SAMPLE["ec2"]], "AWSQueueService": [SAMPLE["sqs"]]})
    table = pricelist.build_table("eu-west-1", client.get_products,
                                  keys=["ec2:instance-hour:m6i.large", "sqs:request-million"],
                                  today=datetime.date(2026, 11, 26))
    assert table["region"] == "eu-west-1" and table["date"] == "2026-11-26"
    assert "Price List API" in table["source"]
    assert table["prices"] == {"ec2:instance-hour:m6i.large": 0.107,
                               "sqs:request-million": pytest.approx(0.4)}


def test_every_key_of_the_shipped_table_can_be_regenerated():
    shipped = json.loads(PRICES_FILE.read_text())
    assert set(shipped["prices"]) <= set(pricelist.queries(shipped["region"]))
