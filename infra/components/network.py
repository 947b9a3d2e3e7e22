"""The VPC: public, private and isolated subnets per AZ, NAT, flow logs, VPC endpoints."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import iam
from infra.components.component import Component

# Interface endpoints that keep the services' and nodes' AWS traffic off the NAT:
# image pulls (ECR), the queues, the bus, the DB secret and IRSA token exchange.
INTERFACE_ENDPOINT_SERVICES = ("ecr.api", "ecr.dkr", "sqs", "events", "secretsmanager", "sts")


@dataclass(frozen=True)
class NetworkArgs:
    """How to shape the VPC."""

    cidr: str
    availability_zones: tuple[str, ...]
    nat_strategy: str
    """``single`` or ``per-az``."""
    region: str
    log_retention_days: int
    log_kms_key_arn: pulumi.Input[str]
    """Encrypts the flow-log group (``LogEncryption``)."""


def subnet_plan(cidr: str, az_count: int) -> dict[str, list[str]]:
    """Carve the VPC: a quarter per private subnet (pods take IPs); small public and isolated."""
    network = ipaddress.IPv4Network(cidr)
    quarters = list(network.subnets(prefixlen_diff=2))
    small = list(quarters[3].subnets(prefixlen_diff=4))
    return {
        "private": [str(q) for q in quarters[:az_count]],
        "public": [str(s) for s in small[:az_count]],
        "isolated": [str(s) for s in small[az_count:2 * az_count]],
    }


class Network(Component[NetworkArgs]):
    """A three-tier VPC spread over the given availability zones."""

    vpc_id: pulumi.Output[str]
    vpc_cidr: str
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    isolated_subnet_ids: list[pulumi.Output[str]]
    isolated_cidrs: list[str]
    private_cidrs: list[str]
    """Where the nodes, the pods and the product cache live."""
    egress: list[pulumi.Resource]
    """How the private subnets reach AWS and the internet: NAT gateways, their routes, the VPC
    endpoints. What runs on the nodes (Karpenter terminating instances) needs it until the end."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:network:Network", name, args, opts)
        plan = subnet_plan(args.cidr, len(args.availability_zones))
        self.vpc_cidr = args.cidr
        self.isolated_cidrs = plan["isolated"]
        self.private_cidrs = plan["private"]

        self.vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=args.cidr, enable_dns_support=True,
                               enable_dns_hostnames=True, tags={"Name": name}, opts=self._child)
        self.vpc_id = self.vpc.id
        # The default group admits the VPC to itself and lets all out; nothing uses it, so
        # adopting it with no rules leaves nothing to attach to it by mistake.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=self.vpc.id,
                                     tags={"Name": f"{name}-default-unused"}, opts=self._child)
        public = self._create_subnets("public", plan["public"], {"kubernetes.io/role/elb": "1"})
        private = self._create_subnets("private", plan["private"],
                                       {"kubernetes.io/role/internal-elb": "1"})
        isolated = self._create_subnets("isolated", plan["isolated"], {})
        self.public_subnet_ids = [s.id for s in public]
        self.private_subnet_ids = [s.id for s in private]
        self.isolated_subnet_ids = [s.id for s in isolated]

        igw, public_routes = self._create_public_routes(public)
        nat_gateways = self._create_nat_gateways(public, igw)
        private_tables, routes = self._create_private_routes(private, nat_gateways)
        isolated_table = self._create_isolated_routes(isolated)
        self._create_flow_logs()
        endpoints = self._create_endpoints(private, [*private_tables, isolated_table])
        self.egress = [*public_routes, *nat_gateways, *routes, *endpoints]

        self.register_outputs({
            "vpcId": self.vpc_id,
            "publicSubnetIds": self.public_subnet_ids,
            "privateSubnetIds": self.private_subnet_ids,
            "isolatedSubnetIds": self.isolated_subnet_ids,
        })

    def _create_subnets(self, tier: str, cidrs: list[str], tags: dict[str, str]):
        return [
            aws.ec2.Subnet(
                f"{self._name}-{tier}-{az}",
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags={"Name": f"{self._name}-{tier}-{az}", "tier": tier, **tags},
                opts=self._child,
            )
            for az, cidr in zip(self._args.availability_zones, cidrs, strict=True)
        ]

    def _create_public_routes(self, public: list[aws.ec2.Subnet]
                              ) -> tuple[aws.ec2.InternetGateway, list[pulumi.Resource]]:
        igw = aws.ec2.InternetGateway(f"{self._name}-igw", vpc_id=self.vpc.id,
                                      tags={"Name": self._name}, opts=self._child)
        table = aws.ec2.RouteTable(f"{self._name}-public", vpc_id=self.vpc.id,
                                   tags={"Name": f"{self._name}-public"}, opts=self._child)
        routes: list[pulumi.Resource] = [aws.ec2.Route(
            f"{self._name}-public-default", route_table_id=table.id,
            destination_cidr_block="0.0.0.0/0", gateway_id=igw.id, opts=self._child)]
        for subnet, az in zip(public, self._args.availability_zones, strict=True):
            routes.append(aws.ec2.RouteTableAssociation(
                f"{self._name}-public-{az}", subnet_id=subnet.id, route_table_id=table.id,
                opts=self._child))
        return igw, routes

    def _create_nat_gateways(self, public: list[aws.ec2.Subnet],
                             igw: aws.ec2.InternetGateway) -> list[aws.ec2.NatGateway]:
        count = 1 if self._args.nat_strategy == "single" else len(public)
        # A public NAT gateway and its EIP need the VPC's internet gateway: created before it,
        # they can fail or come up without a route out, and on destroy the IGW waits for them.
        after_igw = pulumi.ResourceOptions(parent=self, depends_on=[igw])
        gateways = []
        for subnet, az in zip(public[:count], self._args.availability_zones, strict=False):
            eip = aws.ec2.Eip(f"{self._name}-nat-{az}", domain="vpc",
                              tags={"Name": f"{self._name}-nat-{az}"}, opts=after_igw)
            gateways.append(aws.ec2.NatGateway(
                f"{self._name}-nat-{az}", allocation_id=eip.allocation_id, subnet_id=subnet.id,
                tags={"Name": f"{self._name}-nat-{az}"}, opts=after_igw))
        return gateways

    def _create_private_routes(self, private: list[aws.ec2.Subnet],
                               nat_gateways: list[aws.ec2.NatGateway]
                               ) -> tuple[list[aws.ec2.RouteTable], list[aws.ec2.Route]]:
        tables, routes = [], []
        for index, (subnet, az) in enumerate(zip(private, self._args.availability_zones,
                                                 strict=True)):
            table = aws.ec2.RouteTable(f"{self._name}-private-{az}", vpc_id=self.vpc.id,
                                       tags={"Name": f"{self._name}-private-{az}"},
                                       opts=self._child)
            # One table per AZ so a per-AZ NAT keeps traffic (and failures) inside its zone.
            nat = nat_gateways[index % len(nat_gateways)]
            routes.append(aws.ec2.Route(
                f"{self._name}-private-{az}-default", route_table_id=table.id,
                destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat.id, opts=self._child))
            routes.append(aws.ec2.RouteTableAssociation(
                f"{self._name}-private-{az}", subnet_id=subnet.id, route_table_id=table.id,
                opts=self._child))
            tables.append(table)
        return tables, routes

    def _create_isolated_routes(self, isolated: list[aws.ec2.Subnet]) -> aws.ec2.RouteTable:
        # No default route at all: the database subnets cannot reach or be reached from outside.
        table = aws.ec2.RouteTable(f"{self._name}-isolated", vpc_id=self.vpc.id,
                                   tags={"Name": f"{self._name}-isolated"}, opts=self._child)
        for subnet, az in zip(isolated, self._args.availability_zones, strict=True):
            aws.ec2.RouteTableAssociation(f"{self._name}-isolated-{az}", subnet_id=subnet.id,
                                          route_table_id=table.id, opts=self._child)
        return table

    def _create_flow_logs(self) -> None:
        log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-flow-logs", name=f"/vpc/{self._name}/flow-logs",
            retention_in_days=self._args.log_retention_days,
            kms_key_id=self._args.log_kms_key_arn, opts=self._child)
        role = aws.iam.Role(f"{self._name}-flow-logs",
                            assume_role_policy=iam.service_trust_policy("vpc-flow-logs.amazonaws.com"),
                            opts=self._child)
        # AWS documents DescribeLogGroups as required: the service looks its group up before
        # it delivers. It lists, so it is granted on the account's log groups, not one ARN.
        delivery = aws.iam.RolePolicy(
            f"{self._name}-flow-logs",
            role=role.name,
            policy=iam.policy_document([
                iam.statement("WriteFlowLogs", ["logs:CreateLogStream", "logs:PutLogEvents",
                                                "logs:DescribeLogStreams"],
                              [log_group.arn, log_group.arn.apply(lambda arn: f"{arn}:*")]),
                iam.statement("FindLogGroup", ["logs:DescribeLogGroups"], [log_group.arn.apply(
                    lambda arn: arn.split("log-group:")[0] + "log-group:*")]),
            ]),
            opts=self._child)
        # Created before its role may write, a flow log reports "Access error" and delivers
        # nothing until someone recreates it: the role's policy comes first.
        aws.ec2.FlowLog(f"{self._name}-flow-log", vpc_id=self.vpc.id, traffic_type="ALL",
                        log_destination_type="cloud-watch-logs", log_destination=log_group.arn,
                        iam_role_arn=role.arn, max_aggregation_interval=60,
                        tags={"Name": self._name},
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[delivery]))

    def _create_endpoints(self, private: list[aws.ec2.Subnet],
                          route_tables: list[aws.ec2.RouteTable]) -> list[pulumi.Resource]:
        region = self._args.region
        # The S3 gateway endpoint is free and carries ECR image layers.
        s3 = aws.ec2.VpcEndpoint(f"{self._name}-s3", vpc_id=self.vpc.id,
                                 service_name=f"com.amazonaws.{region}.s3",
                                 vpc_endpoint_type="Gateway",
                                 route_table_ids=[t.id for t in route_tables],
                                 tags={"Name": f"{self._name}-s3"}, opts=self._child)
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{self._name}-endpoints", vpc_id=self.vpc.id,
            description="HTTPS from inside the VPC to the interface endpoints",
            tags={"Name": f"{self._name}-endpoints"}, opts=self._child)
        https = aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-endpoints-https", security_group_id=endpoint_sg.id,
            ip_protocol="tcp", from_port=443, to_port=443, cidr_ipv4=self._args.cidr,
            description="HTTPS from the VPC", opts=self._child)
        return [s3, https, *(aws.ec2.VpcEndpoint(
            f"{self._name}-{service.replace('.', '-')}", vpc_id=self.vpc.id,
            service_name=f"com.amazonaws.{region}.{service}",
            vpc_endpoint_type="Interface", private_dns_enabled=True,
            subnet_ids=[s.id for s in private], security_group_ids=[endpoint_sg.id],
            tags={"Name": f"{self._name}-{service}"}, opts=self._child)
            for service in INTERFACE_ENDPOINT_SERVICES)]
