"""Regenerate ``cost/prices.json`` from the AWS Price List API (needs ``pricing:GetProducts``).

    python -m cost.pricelist --region eu-west-1 > cost/prices.json

Each key of the table is one query (``QUERIES``): a service code and exact-match filters that
must select exactly one product; its on-demand price per unit is the table's value (for tiered
prices, the first tier that is not free). A query that matches nothing, or more than one
product, stops the script naming the key, so a renamed usage type never becomes a silent zero.
The API answers only in us-east-1 (and two other regions), whatever region is priced.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from infra import accepted_values, capacity

PRICING_API_REGION = "us-east-1"
USAGE_PREFIX = {"us-east-1": "", "us-east-2": "USE2-", "us-west-2": "USW2-", "eu-west-1": "EU-",
                "eu-west-2": "EUW2-", "eu-central-1": "EUC1-", "eu-north-1": "EUN1-",
                "ap-southeast-1": "APS1-", "ap-northeast-1": "APN1-"}
"""Usage types carry a region prefix (``EU-NatGateway-Hours`` in eu-west-1)."""


class PriceListError(RuntimeError):
    """A query matched no product, or several; the message names the table key."""


@dataclass(frozen=True)
class Query:
    """One table key: which product, by exact attribute matches."""

    service: str
    filters: Mapping[str, str]


def _ec2(instance_type: str, region: str) -> Query:
    return Query("AmazonEC2", {"regionCode": region, "instanceType": instance_type,
                               "operatingSystem": "Linux", "tenancy": "Shared",
                               "preInstalledSw": "NA", "capacitystatus": "Used",
                               "licenseModel": "No License required"})


def _usage(service: str, region: str, usage: str, **extra: str) -> Query:
    return Query(service, {"regionCode": region, "usagetype": USAGE_PREFIX[region] + usage,
                           **extra})


def queries(region: str) -> dict[str, Query]:
    """Every key of the price table and the product that prices it in ``region``."""
    table = {
        "eks:cluster-hour:STANDARD": _usage("AmazonEKS", region, "AmazonEKS-Hours:perCluster"),
        "eks:cluster-hour:EXTENDED": _usage("AmazonEKS", region,
                                            "AmazonEKS-Hours:extendedSupport"),
        "ebs:gp3-gb-month": Query("AmazonEC2", {"regionCode": region, "volumeApiName": "gp3",
                                                "productFamily": "Storage"}),
        "vpc:nat-gateway-hour": _usage("AmazonEC2", region, "NatGateway-Hours"),
        "vpc:nat-gateway-gb": _usage("AmazonEC2", region, "NatGateway-Bytes"),
        "vpc:public-ipv4-hour": _usage("AmazonVPC", region, "PublicIPv4:InUseAddress"),
        "vpc:interface-endpoint-hour": _usage("AmazonVPC", region, "VpcEndpoint-Hours"),
        "vpc:interface-endpoint-gb": _usage("AmazonVPC", region, "VpcEndpoint-Bytes"),
        "ec2:cross-az-gb": _usage("AWSDataTransfer", region, "DataTransfer-Regional-Bytes"),
        "ec2:internet-egress-gb": _usage("AWSDataTransfer", region, "DataTransfer-Out-Bytes"),
        "elb:nlb-hour": _usage("AWSELB", region, "LoadBalancerUsage",
                               productFamily="Load Balancer-Network"),
        "elb:nlb-lcu-hour": _usage("AWSELB", region, "LCUUsage",
                                   productFamily="Load Balancer-Network"),
        "rds:aurora-storage-gb-month": _usage("AmazonRDS", region, "Aurora:StorageUsage",
                                              databaseEngine="Aurora PostgreSQL"),
        "rds:aurora-io-million": _usage("AmazonRDS", region, "Aurora:StorageIOUsage",
                                        databaseEngine="Aurora PostgreSQL"),
        "rds:aurora-backup-gb-month": _usage("AmazonRDS", region, "Aurora:BackupUsage",
                                             databaseEngine="Aurora PostgreSQL"),
        "sqs:request-million": _usage("AWSQueueService", region, "Requests-Tier1"),
        "events:custom-event-million": _usage("AWSEvents", region, "Event-64K-Chunks"),
        "logs:ingest-gb": _usage("AmazonCloudWatch", region, "DataProcessing-Bytes"),
        "logs:store-gb-month": _usage("AmazonCloudWatch", region, "TimedStorage-ByteHrs"),
        "kms:key-month": _usage("awskms", region, "KMS-Keys"),
        "cloudwatch:alarm-month": _usage("AmazonCloudWatch", region, "CW:AlarmMonitorUsage"),
        "cloudwatch:metric-month": _usage("AmazonCloudWatch", region, "CW:MetricMonitorUsage"),
        "cloudwatch:dashboard-hour": _usage("AmazonCloudWatch", region, "DashboardsUsageHour"),
        "xray:trace-million": _usage("AWSXRay", region, "XRay-TracesStored"),
        "secretsmanager:secret-month": _usage("AWSSecretsManager", region,
                                              "AWSSecretsManager-Secrets"),
        "ecr:storage-gb-month": _usage("AmazonECR", region, "TimedStorage-ByteHrs"),
    }
    for other, prefix in USAGE_PREFIX.items():
        if other != region and prefix:  # EU-EUC1-AWS-Out-Bytes: from EU (Ireland) to Frankfurt
            table[f"transfer:inter-region-gb:{other}"] = _usage(
                "AWSDataTransfer", region, f"{prefix}AWS-Out-Bytes")
            # The backup copies are stored, and billed, in the other region.
            table[f"rds:aurora-copy-gb-month:{other}"] = _usage(
                "AmazonRDS", other, "Aurora:BackupUsage", databaseEngine="Aurora PostgreSQL")
    for instance_type in capacity.INSTANCE_SHAPES:
        table[f"ec2:instance-hour:{instance_type}"] = _ec2(instance_type, region)
    for node_type in accepted_values.CACHE_NODE_TYPES:
        table[f"elasticache:node-hour:valkey:{node_type}"] = Query(
            "AmazonElastiCache", {"regionCode": region, "instanceType": node_type,
                                  "cacheEngine": "Valkey"})
    for instance_class in accepted_values.AURORA_POSTGRESQL_INSTANCE_CLASSES:
        table[f"rds:aurora-postgresql-hour:{instance_class}"] = _usage(
            "AmazonRDS", region, f"InstanceUsage:{instance_class}",
            databaseEngine="Aurora PostgreSQL")
    return table


def on_demand_price(product: Mapping) -> float:
    """The on-demand USD price of one Price List product (a parsed ``PriceList`` entry).

    ``terms.OnDemand`` holds one offer, whose ``priceDimensions`` are tiers by ``beginRange``;
    the first tier with a price above zero is taken (free tiers come first).
    """
    offers = list(product["terms"]["OnDemand"].values())
    if len(offers) != 1:
        raise PriceListError(f"{len(offers)} on-demand offers for {product['product']['sku']}")
    tiers = sorted(offers[0]["priceDimensions"].values(),
                   key=lambda tier: float(tier.get("beginRange", "0")))
    for tier in tiers:
        usd = float(tier["pricePerUnit"]["USD"])
        if usd > 0:
            return usd
    raise PriceListError(f"no priced tier for {product['product']['sku']}")


GetProducts = Callable[..., Mapping]


def fetch(key: str, query: Query, get_products: GetProducts) -> float:
    """The price of one key, from every page of ``GetProducts`` for its query."""
    filters = [{"Type": "TERM_MATCH", "Field": field, "Value": value}
               for field, value in query.filters.items()]
    products, token = [], None
    while True:
        page = get_products(ServiceCode=query.service, Filters=filters, MaxResults=100,
                            **({"NextToken": token} if token else {}))
        products += [json.loads(item) for item in page["PriceList"]]
        token = page.get("NextToken")
        if not token:
            break
    if len(products) != 1:
        raise PriceListError(f"{key}: {len(products)} products match {query}; narrow or fix the "
                             "filters in cost/pricelist.py")
    # The API prices one request, event or I/O; the table prices a million of them.
    return on_demand_price(products[0]) * (1e6 if key.endswith("-million") else 1)


def build_table(region: str, get_products: GetProducts, keys: Iterable[str] | None = None,
                today: datetime.date | None = None) -> dict:
    """The content of ``prices.json`` for ``region``."""
    wanted = queries(region)
    chosen = list(keys) if keys is not None else list(wanted)
    return {"region": region, "currency": "USD",
            "date": (today or datetime.datetime.now(datetime.UTC).date()).isoformat(),
            "source": f"AWS Price List API (GetProducts, on-demand terms), region {region}, "
                      "by python -m cost.pricelist",
            "prices": {key: fetch(key, wanted[key], get_products) for key in chosen}}


def main(argv: list[str] | None = None) -> int:
    """Print a new price table for ``--region``."""
    import boto3

    parser = argparse.ArgumentParser(prog="python -m cost.pricelist", description=__doc__)
    parser.add_argument("--region", default="eu-west-1")
    options = parser.parse_args(argv)
    client = boto3.client("pricing", region_name=PRICING_API_REGION)
    json.dump(build_table(options.region, client.get_products), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
