"""The network: NAT, public addresses, the NLB, VPC endpoints, and what crosses zones or
leaves for the internet."""

from __future__ import annotations

from collections.abc import Iterator

from cost import assumptions as assume
from cost.context import Context
from cost.lines import Line
from cost.rules import GB, HOURS, rule
from infra.simulation import SimulatedResource

NAT = "aws:ec2/natGateway:NatGateway"


@rule(NAT)
def _nat(r: SimulatedResource, c: Context) -> Iterator[Line]:
    gateways = len(c.run.of_type(NAT))
    yield c.line(r, "NAT gateway", HOURS, "hour", "vpc:nat-gateway-hour")
    data = c.nodes * assume.NAT_GB_PER_NODE / gateways
    yield c.line(r, "NAT data processed", data, "GB", "vpc:nat-gateway-gb")


@rule("aws:ec2/eip:Eip")
def _public_ip(r: SimulatedResource, c: Context) -> Iterator[Line]:
    yield c.line(r, "public IPv4 address", HOURS, "hour", "vpc:public-ipv4-hour")


@rule("aws:lb/loadBalancer:LoadBalancer")
def _nlb(r: SimulatedResource, c: Context) -> Iterator[Line]:
    yield c.line(r, "network load balancer", HOURS, "hour", "elb:nlb-hour")
    per_second = c.traffic.orders_per_second * assume.REQUESTS_PER_ORDER
    gb_per_hour = per_second * assume.BYTES_PER_REQUEST * 3600 / GB
    # An NLB LCU is 800 new TCP flows/s or 1 GB/h processed, whichever is more.
    lcus = max(per_second / 800, gb_per_hour)
    yield c.line(r, f"{lcus:.3f} LCU (requests)", lcus * HOURS, "LCU-hour", "elb:nlb-lcu-hour")
    if not r.inputs.get("internal"):
        zones = len(r.inputs.get("subnets") or [])
        yield c.line(r, f"{zones} public IPv4 addresses (one per AZ)", zones * HOURS, "hour",
                     "vpc:public-ipv4-hour")


def _endpoint_bytes(service: str, c: Context) -> float:
    return {"sqs": c.traffic.messages * assume.ENDPOINT_BYTES_PER_MESSAGE,
            "events": c.traffic.events * assume.ENDPOINT_BYTES_PER_EVENT}.get(service, 0.0)


@rule("aws:ec2/vpcEndpoint:VpcEndpoint")
def _endpoint(r: SimulatedResource, c: Context) -> Iterator[Line]:
    if r.inputs.get("vpcEndpointType") != "Interface":
        return  # gateway endpoints (S3) are free
    zones = len(r.inputs.get("subnetIds") or [])
    service = r.inputs["serviceName"].rsplit(".", 1)[-1]
    yield c.line(r, f"{service} interface endpoint in {zones} AZs", zones * HOURS, "hour",
                 "vpc:interface-endpoint-hour")
    if carried := _endpoint_bytes(service, c):
        yield c.line(r, f"{service} endpoint data", carried / GB, "GB",
                     "vpc:interface-endpoint-gb")


@rule("aws:ec2/vpc:Vpc")
def _data_transfer(r: SimulatedResource, c: Context) -> Iterator[Line]:
    # Pods, nodes, the NLB's zones and the endpoints' ENIs spread over every zone, so a hop
    # lands in another zone (zones - 1) / zones of the time; AWS bills such a GB on the way
    # out of one zone and again on the way into the other.
    zones = c.config.az_count
    crossing = (zones - 1) / zones
    per_order = (2 * assume.REQUESTS_PER_ORDER * assume.BYTES_PER_REQUEST  # NLB->node->pod
                 + assume.DB_WIRE_BYTES_PER_ORDER)
    between = (c.traffic.orders * per_order + _endpoint_bytes("sqs", c)
               + _endpoint_bytes("events", c)) * crossing / GB
    yield c.line(r, f"traffic between AZs ({crossing:.0%} of hops, billed out and in)",
                 2 * between, "GB", "ec2:cross-az-gb")
    out = (c.traffic.requests * assume.RESPONSE_BYTES / GB
           + c.nodes * assume.NAT_GB_PER_NODE * assume.NAT_INTERNET_OUT_SHARE)
    yield c.line(r, "data out to the internet (API responses, through NAT)", out, "GB",
                 "ec2:internet-egress-gb")
