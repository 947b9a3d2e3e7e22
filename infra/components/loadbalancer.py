"""The API network load balancer, owned by Pulumi (no controller, so destroy removes it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.certificate import TLS13_POLICY
from infra.components.component import Component


@dataclass(frozen=True)
class ApiListener:
    """One public port forwarded to one API's fixed NodePort."""

    service: str
    port: int
    node_port: int


@dataclass(frozen=True)
class ListenerTls:
    """The listeners terminate TLS for ``domain`` with this certificate; the target groups stay
    TCP (the NLB speaks plain HTTP to the pods, inside the VPC)."""

    domain: str
    certificate_arn: pulumi.Input[str]
    hosted_zone_id: str = ""
    """Set: an alias record points ``domain`` at the load balancer."""
    ssl_policy: str = TLS13_POLICY


@dataclass(frozen=True)
class LoadBalancerArgs:
    """Placement, exposure and targets of the NLB."""

    name: str
    """Physical NLB name (at most 32 characters)."""
    target_group_prefix: str
    vpc_id: pulumi.Input[str]
    public_subnet_ids: Sequence[pulumi.Input[str]]
    allowed_cidrs: tuple[str, ...]
    listeners: tuple[ApiListener, ...]
    node_security_group_id: pulumi.Input[str]
    node_autoscaling_group_name: pulumi.Input[str]
    deletion_protection: bool
    deregistration_delay_seconds: int
    """How long a node leaving the target group keeps its connections: within the APIs'
    termination grace (``termination_grace_seconds``), so no request they accepted is cut."""
    health_check_path: str = "/readyz"
    tls: ListenerTls | None = None
    """None: plain TCP listeners (only dev may, by saying so in its stack file)."""


class LoadBalancer(Component[LoadBalancerArgs]):
    """An internet-facing NLB with a listener and an instance target group per API."""

    dns_name: pulumi.Output[str]
    urls: dict[str, pulumi.Output[str]]
    """Base URL per API service name: ``https://<domain>:<port>``, or ``http://<dns>:<port>``
    without TLS."""

    def __init__(self, name: str, args: LoadBalancerArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:loadbalancer:LoadBalancer", name, args, opts)

        security_group = self._create_security_group()
        self.nlb = aws.lb.LoadBalancer(
            f"{name}-nlb", name=args.name, load_balancer_type="network", internal=False,
            subnets=args.public_subnet_ids, security_groups=[security_group.id],
            enable_cross_zone_load_balancing=True,
            enable_deletion_protection=args.deletion_protection, opts=self._child)
        self.dns_name = self.nlb.dns_name
        self.urls = {}
        base = (pulumi.Output.from_input(f"https://{args.tls.domain}") if args.tls
                else pulumi.Output.concat("http://", self.dns_name))
        for listener in args.listeners:
            self._create_listener(listener)
            self.urls[listener.service] = pulumi.Output.concat(base, f":{listener.port}")
        if args.tls and args.tls.hosted_zone_id:
            aws.route53.Record(
                f"{name}-api-alias", zone_id=args.tls.hosted_zone_id, name=args.tls.domain,
                type="A", aliases=[{"name": self.nlb.dns_name, "zone_id": self.nlb.zone_id,
                                    "evaluate_target_health": True}], opts=self._child)
        self.register_outputs({"dnsName": self.dns_name, "urls": self.urls})

    def _create_security_group(self) -> aws.ec2.SecurityGroup:
        args = self._args
        group = aws.ec2.SecurityGroup(
            f"{self._name}-nlb-sg", vpc_id=args.vpc_id,
            description="API clients to the NLB; the NLB to the nodes' API NodePorts",
            tags={"Name": args.name}, opts=self._child)
        for listener in args.listeners:
            for index, cidr in enumerate(args.allowed_cidrs):
                aws.vpc.SecurityGroupIngressRule(
                    f"{self._name}-{listener.service}-client-{index}",
                    security_group_id=group.id, ip_protocol="tcp", from_port=listener.port,
                    to_port=listener.port, cidr_ipv4=cidr,
                    description=f"{listener.service} clients", opts=self._child)
            aws.vpc.SecurityGroupEgressRule(
                f"{self._name}-{listener.service}-to-nodes", security_group_id=group.id,
                ip_protocol="tcp", from_port=listener.node_port, to_port=listener.node_port,
                referenced_security_group_id=args.node_security_group_id,
                description=f"{listener.service} NodePort on the nodes", opts=self._child)
            aws.vpc.SecurityGroupIngressRule(
                f"{self._name}-{listener.service}-nodeport",
                security_group_id=args.node_security_group_id, ip_protocol="tcp",
                from_port=listener.node_port, to_port=listener.node_port,
                referenced_security_group_id=group.id,
                description=f"{listener.service} NodePort from the NLB", opts=self._child)
        return group

    def _create_listener(self, listener: ApiListener) -> None:
        args = self._args
        target_group = aws.lb.TargetGroup(
            f"{self._name}-{listener.service}",
            # The node port is in the name so a port change replaces cleanly (names are unique).
            name=f"{args.target_group_prefix}-{listener.service}-{listener.node_port}"[:32],
            port=listener.node_port, protocol="TCP", target_type="instance",
            vpc_id=args.vpc_id, deregistration_delay=args.deregistration_delay_seconds,
            health_check={"enabled": True, "protocol": "HTTP", "path": args.health_check_path,
                          "port": "traffic-port", "matcher": "200", "interval": 10,
                          "healthy_threshold": 2, "unhealthy_threshold": 2},
            opts=self._child)
        tls = args.tls
        aws.lb.Listener(
            f"{self._name}-{listener.service}", load_balancer_arn=self.nlb.arn,
            port=listener.port, protocol="TLS" if tls else "TCP",
            certificate_arn=tls.certificate_arn if tls else None,
            ssl_policy=tls.ssl_policy if tls else None,
            # The APIs speak HTTP/1.1 (gunicorn): ALPN must not offer h2.
            alpn_policy="HTTP1Only" if tls else None,
            default_actions=[{"type": "forward", "target_group_arn": target_group.arn}],
            opts=self._child)
        # Registers every node of the managed node group, now and as it scales.
        aws.autoscaling.Attachment(
            f"{self._name}-{listener.service}",
            autoscaling_group_name=args.node_autoscaling_group_name,
            lb_target_group_arn=target_group.arn, opts=self._child)
