"""The pretend AWS resources behind ``infra.mock_cloud.CloudMocks``.

Each builder returns a resource's id and the attributes AWS (or the API server) would compute:
ids, ARNs, endpoints and URLs derived deterministically from the inputs, so wiring tests can
compare what a pod is told with what the resource reports. ``m`` is the ``CloudMocks`` asking
(its ``region`` and ``arn()``); Kubernetes objects and ``random`` values are made there.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import pulumi

from infra.registrar import registrar

ACCOUNT_ID = "123456789012"


def short_hash(text: str, length: int = 8) -> str:
    """A stable hex digest fragment used to fake AWS-generated suffixes."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def new_aws_resource(m, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
    """(id, state) of a new AWS resource: its inputs plus what AWS computes."""
    state = dict(args.inputs)
    given = state.get("name")
    name = given if isinstance(given, str) else str(args.name)
    builder = _BUILDERS.get(args.typ)
    if builder is None:
        state.setdefault("arn", m.arn(args.typ, name))
        return f"{args.name}-{short_hash(args.typ + args.name)}", state
    resource_id, computed = builder(m, args, state, name)
    state.update(computed)
    return resource_id, state


Builder = Callable[[object, pulumi.runtime.MockResourceArgs, dict, str], tuple[str, dict]]
_BUILDERS: dict[str, Builder] = {}


builder = registrar(_BUILDERS)


def _ec2(prefix: str, kind: str) -> Builder:
    """A builder for EC2 things whose id is ``<prefix>-<hex>``."""
    def build(m, args, state, name):
        rid = f"{prefix}-{short_hash(args.name, 17)}"
        return rid, {"arn": f"arn:aws:ec2:{m.region}:{ACCOUNT_ID}:{kind}/{rid}",
                     "ownerId": ACCOUNT_ID}
    return build


for _typ, _prefix, _kind in (
    ("aws:ec2/vpc:Vpc", "vpc", "vpc"),
    ("aws:ec2/subnet:Subnet", "subnet", "subnet"),
    ("aws:ec2/internetGateway:InternetGateway", "igw", "internet-gateway"),
    ("aws:ec2/natGateway:NatGateway", "nat", "natgateway"),
    ("aws:ec2/routeTable:RouteTable", "rtb", "route-table"),
    ("aws:ec2/securityGroup:SecurityGroup", "sg", "security-group"),
    ("aws:ec2/vpcEndpoint:VpcEndpoint", "vpce", "vpc-endpoint"),
    ("aws:ec2/flowLog:FlowLog", "fl", "vpc-flow-log"),
    ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "sgr", "security-group-rule"),
    ("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "sgr", "security-group-rule"),
):
    _BUILDERS[_typ] = _ec2(_prefix, _kind)


@builder("aws:ec2/eip:Eip")
def _eip(m, args, state, name):
    rid = f"eipalloc-{short_hash(args.name, 17)}"
    return rid, {"allocationId": rid, "publicIp": f"198.18.0.{int(short_hash(args.name, 2), 16)}"}


@builder("aws:kms/key:Key")
def _kms_key(m, args, state, name):
    key_id = f"{short_hash(args.name, 8)}-0000-4000-8000-{short_hash(args.name + 'k', 12)}"
    return key_id, {"keyId": key_id, "arn": f"arn:aws:kms:{m.region}:{ACCOUNT_ID}:key/{key_id}"}


@builder("aws:kms/alias:Alias")
def _kms_alias(m, args, state, name):
    return name, {"arn": f"arn:aws:kms:{m.region}:{ACCOUNT_ID}:{name}"}


@builder("aws:iam/role:Role")
def _iam_role(m, args, state, name):
    return name, {"name": name, "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
                  "uniqueId": f"AROA{short_hash(name, 16).upper()}"}


@builder("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
def _oidc_provider(m, args, state, name):
    host_path = str(state.get("url", "")).removeprefix("https://")
    arn = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{host_path}"
    return arn, {"arn": arn}


@builder("aws:cloudwatch/logGroup:LogGroup")
def _log_group(m, args, state, name):
    return name, {"name": name, "arn": f"arn:aws:logs:{m.region}:{ACCOUNT_ID}:log-group:{name}"}


@builder("aws:eks/cluster:Cluster")
def _eks_cluster(m, args, state, name):
    oidc_id = short_hash(name, 32).upper()
    vpc_config = dict(state.get("vpcConfig") or {})
    vpc_config.update({"clusterSecurityGroupId": f"sg-{short_hash(name + 'cluster', 17)}",
                       "vpcId": f"vpc-{short_hash(name, 17)}"})
    ca = base64.b64encode(f"mock CA of {name}".encode()).decode()
    return name, {
        "name": name,
        "arn": f"arn:aws:eks:{m.region}:{ACCOUNT_ID}:cluster/{name}",
        "endpoint": f"https://{oidc_id}.gr7.{m.region}.eks.amazonaws.com",
        "certificateAuthority": {"data": ca},
        "identities": [{"oidcs": [
            {"issuer": f"https://oidc.eks.{m.region}.amazonaws.com/id/{oidc_id}"}]}],
        "vpcConfig": vpc_config,
        "status": "ACTIVE",
        "platformVersion": "eks.1",
    }


@builder("aws:eks/nodeGroup:NodeGroup")
def _eks_node_group(m, args, state, name):
    cluster = state.get("clusterName", "cluster")
    group = state.get("nodeGroupName") or args.name
    asg = f"eks-{group}-{short_hash(args.name, 8)}-0000-0000-0000-{short_hash(group, 12)}"
    return f"{cluster}:{group}", {
        "arn": (f"arn:aws:eks:{m.region}:{ACCOUNT_ID}:nodegroup/{cluster}/{group}/"
                f"{short_hash(group)}"),
        "nodeGroupName": group,
        "resources": [{"autoscalingGroups": [{"name": asg}], "remoteAccessSecurityGroupId": ""}],
        "status": "ACTIVE",
    }


@builder("aws:rds/cluster:Cluster")
def _rds_cluster(m, args, state, name):
    ident = state.get("clusterIdentifier") or args.name
    suffix = short_hash(ident, 12)
    secret = {
        "secretArn": f"arn:aws:secretsmanager:{m.region}:{ACCOUNT_ID}:secret:rds!cluster-"
                     f"{short_hash(ident, 8)}-0000-4000-8000-{suffix}-AbCdEf",
        "kmsKeyId": state.get("masterUserSecretKmsKeyId", ""),
        "secretStatus": "active",
    }
    return ident, {
        "clusterIdentifier": ident,
        "arn": f"arn:aws:rds:{m.region}:{ACCOUNT_ID}:cluster:{ident}",
        "clusterResourceId": f"cluster-{suffix.upper()}",
        "endpoint": f"{ident}.cluster-{suffix}.{m.region}.rds.amazonaws.com",
        "readerEndpoint": f"{ident}.cluster-ro-{suffix}.{m.region}.rds.amazonaws.com",
        "port": state.get("port", 5432),
        "masterUserSecrets": [secret] if state.get("manageMasterUserPassword") else [],
    }


@builder("aws:rds/clusterInstance:ClusterInstance")
def _rds_instance(m, args, state, name):
    ident = state.get("identifier") or args.name
    return ident, {
        "identifier": ident,
        "arn": f"arn:aws:rds:{m.region}:{ACCOUNT_ID}:db:{ident}",
        "endpoint": f"{ident}.{short_hash(ident, 12)}.{m.region}.rds.amazonaws.com",
        "writer": state.get("promotionTier", 1) == 0,
    }


@builder("aws:sqs/queue:Queue")
def _sqs_queue(m, args, state, name):
    url = f"https://sqs.{m.region}.amazonaws.com/{ACCOUNT_ID}/{name}"
    return url, {"name": name, "url": url, "arn": f"arn:aws:sqs:{m.region}:{ACCOUNT_ID}:{name}"}


@builder("aws:sns/topic:Topic")
def _sns_topic(m, args, state, name):
    arn = f"arn:aws:sns:{m.region}:{ACCOUNT_ID}:{name}"
    return arn, {"name": name, "arn": arn, "owner": ACCOUNT_ID}


@builder("aws:cloudwatch/metricAlarm:MetricAlarm")
def _metric_alarm(m, args, state, name):
    return name, {"name": name, "arn": f"arn:aws:cloudwatch:{m.region}:{ACCOUNT_ID}:alarm:{name}"}


@builder("aws:cloudwatch/eventBus:EventBus")
def _event_bus(m, args, state, name):
    return name, {"name": name, "arn": f"arn:aws:events:{m.region}:{ACCOUNT_ID}:event-bus/{name}"}


@builder("aws:cloudwatch/eventRule:EventRule")
def _event_rule(m, args, state, name):
    bus = state.get("eventBusName", "default")
    return f"{bus}|{name}", {
        "name": name, "arn": f"arn:aws:events:{m.region}:{ACCOUNT_ID}:rule/{bus}/{name}"}


@builder("aws:lb/loadBalancer:LoadBalancer")
def _load_balancer(m, args, state, name):
    lb_name = name[:32]
    arn = (f"arn:aws:elasticloadbalancing:{m.region}:{ACCOUNT_ID}:loadbalancer/net/"
           f"{lb_name}/{short_hash(lb_name, 16)}")
    return arn, {"name": lb_name, "arn": arn, "zoneId": "Z2IFOLAFXWLO4F",
                 "dnsName": f"{lb_name}-{short_hash(lb_name, 16)}.elb.{m.region}.amazonaws.com"}


@builder("aws:lb/targetGroup:TargetGroup")
def _target_group(m, args, state, name):
    tg_name = name[:32]
    arn = (f"arn:aws:elasticloadbalancing:{m.region}:{ACCOUNT_ID}:targetgroup/"
           f"{tg_name}/{short_hash(tg_name, 16)}")
    return arn, {"name": tg_name, "arn": arn}


@builder("aws:lb/listener:Listener")
def _listener(m, args, state, name):
    arn = (f"arn:aws:elasticloadbalancing:{m.region}:{ACCOUNT_ID}:listener/net/"
           f"{short_hash(args.name, 16)}")
    return arn, {"arn": arn}


@builder("aws:ecr/repository:Repository")
def _ecr_repository(m, args, state, name):
    return name, {
        "name": name,
        "arn": f"arn:aws:ecr:{m.region}:{ACCOUNT_ID}:repository/{name}",
        "registryId": ACCOUNT_ID,
        "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{m.region}.amazonaws.com/{name}",
    }


@builder("aws:ec2/launchTemplate:LaunchTemplate")
def _launch_template(m, args, state, name):
    rid = f"lt-{short_hash(args.name, 17)}"
    return rid, {"arn": f"arn:aws:ec2:{m.region}:{ACCOUNT_ID}:launch-template/{rid}",
                 "latestVersion": 1, "defaultVersion": 1}


@builder("aws:iam/instanceProfile:InstanceProfile")
def _instance_profile(m, args, state, name):
    profile = state.get("name") or f"{args.name}-{short_hash(args.name, 7)}"
    return profile, {"name": profile,
                     "arn": f"arn:aws:iam::{ACCOUNT_ID}:instance-profile/{profile}",
                     "uniqueId": f"AIPA{short_hash(profile, 16).upper()}"}


def _autonamed(m, args, state, name):
    """Pulumi's auto-naming: ``<logical name>-<7 hex>`` when the program gives no name."""
    physical = state.get("name") or f"{args.name}-{short_hash(args.name, 7)}"
    return physical, {"name": physical, "arn": m.arn(args.typ, physical)}


for _typ in ("aws:rds/clusterParameterGroup:ClusterParameterGroup",
             "aws:rds/subnetGroup:SubnetGroup"):
    _BUILDERS[_typ] = _autonamed


@builder("aws:secretsmanager/secret:Secret")
def _secret(m, args, state, name):
    """Autonamed (``<logical name>-<7 hex>``) unless the program names it."""
    physical = state.get("name") or f"{args.name}-{short_hash(args.name, 7)}"
    arn = f"arn:aws:secretsmanager:{m.region}:{ACCOUNT_ID}:secret:{physical}-" \
          f"{short_hash(physical, 6)}"
    return arn, {"arn": arn, "name": physical}


@builder("aws:elasticache/replicationGroup:ReplicationGroup")
def _replication_group(m, args, state, name):
    group = state.get("replicationGroupId") or args.name
    domain = f"{short_hash(group, 6)}.euw1.cache.amazonaws.com"
    nodes = int(state.get("numCacheClusters") or 1)
    return group, {
        "arn": f"arn:aws:elasticache:{m.region}:{ACCOUNT_ID}:replicationgroup:{group}",
        "primaryEndpointAddress": f"master.{group}.{domain}",
        "readerEndpointAddress": f"replica.{group}.{domain}",
        "port": state.get("port", 6379),
        "memberClusters": [f"{group}-{index + 1:03d}" for index in range(nodes)],
        "engineVersionActual": f"{state.get('engineVersion', '8.0')}.1",
    }


@builder("aws:cloudwatch/dashboard:Dashboard")
def _dashboard(m, args, state, name):
    board = state["dashboardName"]
    return board, {"dashboardArn": f"arn:aws:cloudwatch::{ACCOUNT_ID}:dashboard/{board}"}


_BUILDERS["aws:elasticache/subnetGroup:SubnetGroup"] = _autonamed
