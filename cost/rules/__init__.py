"""The pricing rules: one per billed AWS or Kubernetes type, and the types that bill nothing.

Each rule turns one resource into the lines it costs a month. Quantities come from the resource's
own inputs (instance classes, node counts, endpoint subnets, log retention), from what the
program and the capacity model know (pods at the stack's ``ordersPerSecond``, the topology's
events per order, the consumers' batch sizes: ``cost.context``), and, where neither says, from
``cost.assumptions``. The rules live per service in this package's modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from cost import assumptions as assume
from cost.context import NODE_CLASS, Context
from cost.lines import Line
from infra.simulation import SimulatedResource

HOURS = assume.HOURS_PER_MONTH
GB = 1e9


class UnpricedResourceError(KeyError):
    """The program creates a type with no pricing rule and no place in FREE."""


Rule = Callable[[SimulatedResource, Context], Iterator[Line]]
RULES: dict[str, Rule] = {}

FREE = frozenset({
    # No charge of their own: what they do is priced where it is billed.
    "aws:autoscaling/attachment:Attachment",
    "aws:backup/selection:Selection",
    "aws:backup/vault:Vault",  # what it stores is priced on the plan (recovery.py)
    "aws:cloudwatch/eventRule:EventRule",  # events are priced on the bus
    "aws:cloudwatch/eventTarget:EventTarget",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/flowLog:FlowLog",  # priced as log ingestion on its log group
    "aws:ec2/internetGateway:InternetGateway",  # internet egress is priced on the VPC
    "aws:ec2/launchTemplate:LaunchTemplate",  # its volumes are priced on the node group
    "aws:ec2/route:Route",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/subnet:Subnet",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:elasticache/subnetGroup:SubnetGroup",
    "aws:eks/accessEntry:AccessEntry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    "aws:eks/addon:Addon",  # runs on the nodes
    "aws:iam/instanceProfile:InstanceProfile",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:kms/alias:Alias",
    "aws:secretsmanager/secretVersion:SecretVersion",  # priced on its secret
    "aws:lb/listener:Listener",  # priced on the load balancer (hours and LCUs)
    "aws:lb/targetGroup:TargetGroup",
    "aws:rds/clusterParameterGroup:ClusterParameterGroup",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:sns/topic:Topic",  # alarm notifications: within the free tier
    "aws:sns/topicPolicy:TopicPolicy",
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:sqs/queuePolicy:QueuePolicy",
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    # Public ACM certificates and the records in a zone the stack does not own cost nothing.
    "aws:acm/certificate:Certificate",
    "aws:acm/certificateValidation:CertificateValidation",
    "aws:route53/record:Record",
    # Cognito bills by use (monthly active people past the free tier, machine tokens), which
    # the capacity model does not know: not in the estimate (docs/deploying.md says so).
    "aws:cognito/userPool:UserPool",
    "aws:cognito/userPoolClient:UserPoolClient",
    "aws:cognito/userPoolDomain:UserPoolDomain",
    "aws:cognito/userGroup:UserGroup",
    "aws:cognito/resourceServer:ResourceServer",
    "random:index/randomPassword:RandomPassword",  # a value in the state, nothing in AWS
    "random:index/randomId:RandomId",
    # Kubernetes objects run on the nodes, which are priced; Karpenter's chart too.
    "kubernetes:helm.sh/v3:Release",
    "kubernetes:apps/v1:Deployment",
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:batch/v1:Job",
    "kubernetes:core/v1:ConfigMap",
    "kubernetes:core/v1:Namespace",
    "kubernetes:core/v1:Service",
    "kubernetes:core/v1:ServiceAccount",
    "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "kubernetes:policy/v1:PodDisruptionBudget",
    "kubernetes:rbac.authorization.k8s.io/v1:Role",
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    NODE_CLASS,  # its volumes are priced with the NodePool's nodes
})
NOT_RESOURCES = ("pulumi:providers:", "order-platform:")


def rule(*types: str) -> Callable[[Rule], Rule]:
    """Register a pricing rule for the given type tokens."""
    def register(fn: Rule) -> Rule:
        for token in types:
            RULES[token] = fn
        return fn
    return register


# Each module registers its rules with `rule` when imported.
from cost.rules import (  # noqa: E402,F401
    compute,
    data,
    messaging,
    network,
    observability,
    recovery,
)
