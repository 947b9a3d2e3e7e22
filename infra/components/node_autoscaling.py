"""Workload nodes on demand: Karpenter, its AWS side, and the pool it launches nodes into.

Karpenter (a Helm release on the system node group) launches x86_64 on-demand nodes of the
configured types when pods are Pending, up to the NodePool's CPU and memory limits, and
removes them when they are empty or underused. AWS tells it about maintenance and stopping
instances through an SQS interruption queue, so it drains those nodes first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.capacity import NODE_ARCHITECTURE, InstanceShape
from infra.components import alerting, iam, karpenter_iam
from infra.components.cluster import NODE_ROLE_POLICIES
from infra.components.component import Component

CHART_REPOSITORY = "oci://public.ecr.aws/karpenter"
NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "karpenter"
NODE_POOL = "workloads"
HELM_TIMEOUT_SECONDS = 600
"""Helm waits for the controller's pods; a node of the system group may be rolling."""
CONSOLIDATE_AFTER = "15m"
"""A node's pods unchanged this long before Karpenter may consolidate it: each move costs a pod a
drain and a cold start, and the HPAs scale down in 5-minute windows; three, so load has settled."""
DISRUPTION_BUDGET_NODES = "1"
"""One node drained at a time by consolidation, drift or expiry (the PDBs: one pod each)."""
NODE_POOL_DELETE_TIMEOUT = "20m"  # destroy waits for Karpenter to drain and end every node
INTERRUPTION_RETENTION_SECONDS = 300  # an interruption notice is useless after five minutes
INTERRUPTION_AGE_ALARM_SECONDS = 120
"""Karpenter polls its queue continuously: a notice two minutes old means no controller reads
it, and the node it announces will stop without being drained."""
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
INTERRUPTION_EVENTS = {
    "health": ("aws.health", "AWS Health Event"),
    "state-change": ("aws.ec2", "EC2 Instance State-change Notification"),
}
"""EventBridge patterns (source, detail-type) Karpenter acts on for on-demand nodes; the spot
and capacity-reservation events do not occur with this NodePool."""
_MANAGED = "arn:aws:iam::aws:policy/"


def interruption_queue_name(prefix: str) -> str:
    """The SQS queue AWS's interruption events reach Karpenter through (its DLQ adds -dlq)."""
    return f"{prefix}-karpenter-interruption"


@dataclass(frozen=True)
class NodeAutoscalingArgs:
    """The cluster to serve, the nodes to launch and where their alarms go."""

    prefix: str
    cluster_name: pulumi.Input[str]
    partition: str
    region: str
    account_id: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    node_security_group_id: pulumi.Input[str]
    """The cluster security group: the database and the NLB admit it."""
    instance_types: tuple[str, ...]
    shape: InstanceShape
    max_nodes: int
    ami_alias: str
    """``al2023@v<YYYYMMDD>``: one AMI release, pinned (``infra/kubernetes_versions.py``)."""
    chart_version: str
    """Karpenter's controller and CRD charts, pinned for the cluster's Kubernetes version."""
    controller_replicas: int
    alarm_topic_arn: pulumi.Input[str]
    alarm_topic_policy: pulumi.Resource
    """Lets CloudWatch publish to the topic; the alarm waits for it."""
    node_tags: dict[str, str]
    """Karpenter's instances are not Pulumi resources: the provider's default tags miss them."""


class NodeAutoscaling(Component[NodeAutoscalingArgs]):
    """Karpenter with least-privilege IRSA, an interruption queue, an EC2NodeClass, a NodePool."""

    node_pool: k8s.apiextensions.CustomResource
    queue_name: str
    """The interruption queue's SQS name; its DLQ is ``dlq_name``."""
    dlq_name: str

    def __init__(self, name: str, args: NodeAutoscalingArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:nodes:NodeAutoscaling", name, args, opts)
        self._name = f"{name}-karpenter"  # children apart from the cluster's own node role
        self.queue_name = interruption_queue_name(args.prefix)
        self.dlq_name = f"{self.queue_name}-dlq"

        node_role, profile, node_access = self._create_node_identity()
        queue = self._create_interruption_queue()
        controller_role, controller_grant = self._create_controller_role(node_role, profile, queue)
        # The controller clears the finalizers of the NodeClaims, the EC2NodeClass and the
        # NodePool, and it needs its policy to terminate their instances: created after its
        # grant and deleted before it, or `destroy` waits forever on instances nobody ends.
        controller = self._install_controller(controller_role, controller_grant, queue)
        node_class = self._create_node_class(profile, [controller, controller_grant, node_access])
        # The pool names its class: deleting the class first would strand its nodes.
        self.node_pool = self._create_node_pool(node_class, [controller, controller_grant])
        self.register_outputs({"interruptionQueueUrl": queue.url})

    def _create_node_identity(self):
        args = self._args
        role = aws.iam.Role(f"{self._name}-node",
                            assume_role_policy=iam.service_trust_policy("ec2.amazonaws.com"),
                            description=f"Karpenter nodes of {args.prefix}", opts=self._child)
        attachments = [aws.iam.RolePolicyAttachment(f"{self._name}-node-{policy}", role=role.name,
                                                    policy_arn=_MANAGED + policy, opts=self._child)
                       for policy in NODE_ROLE_POLICIES]
        profile = aws.iam.InstanceProfile(
            f"{self._name}-node", role=role.name,
            opts=pulumi.ResourceOptions(parent=self, depends_on=attachments))
        # With API authentication, a node joins only if its role has an EC2_LINUX entry.
        access = aws.eks.AccessEntry(f"{self._name}-node", cluster_name=args.cluster_name,
                                     principal_arn=role.arn, type="EC2_LINUX", opts=self._child)
        return role, profile, access

    def _create_interruption_queue(self) -> aws.sqs.Queue:
        args = self._args
        name = interruption_queue_name(args.prefix)
        dlq = aws.sqs.Queue(f"{self._name}-interruption-dlq", name=f"{name}-dlq",
                            message_retention_seconds=DLQ_RETENTION_SECONDS,
                            sqs_managed_sse_enabled=True, opts=self._child)
        queue = aws.sqs.Queue(
            f"{self._name}-interruption", name=name,
            message_retention_seconds=INTERRUPTION_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            redrive_policy=dlq.arn.apply(lambda arn: json.dumps(
                {"deadLetterTargetArn": arn, "maxReceiveCount": 5})),
            opts=self._child)
        aws.sqs.RedriveAllowPolicy(
            f"{self._name}-interruption-dlq", queue_url=dlq.url,
            redrive_allow_policy=queue.arn.apply(lambda arn: json.dumps(
                {"redrivePermission": "byQueue", "sourceQueueArns": [arn]})),
            opts=self._child)
        rules = {key: aws.cloudwatch.EventRule(
            f"{self._name}-{key}", name=f"{args.prefix}-karpenter-{key}",
            description=f"{detail} to Karpenter's interruption queue",
            event_pattern=json.dumps({"source": [source], "detail-type": [detail]}),
            opts=self._child) for key, (source, detail) in INTERRUPTION_EVENTS.items()}
        rule_arns = pulumi.Output.all(*(rule.arn for rule in rules.values()))
        # Queue policies first: a target whose queue refuses the rule loses events silently.
        policies = [self._allow_rules_to_send(f"interruption{suffix}", target, rule_arns)
                    for suffix, target in (("", queue), ("-dlq", dlq))]
        for key, rule in rules.items():
            aws.cloudwatch.EventTarget(
                f"{self._name}-{key}", rule=rule.name, target_id="karpenter-interruption",
                arn=queue.arn, dead_letter_config={"arn": dlq.arn},
                retry_policy={"maximum_retry_attempts": 5,
                              "maximum_event_age_in_seconds": INTERRUPTION_RETENTION_SECONDS},
                opts=pulumi.ResourceOptions(parent=self, depends_on=policies))
        aws.cloudwatch.MetricAlarm(
            f"{self._name}-interruption-dlq-alarm", name=alerting.dlq_alarm_name(f"{name}-dlq"),
            alarm_description=("Interruption notices Karpenter did not take (or EventBridge "
                               "could not deliver): check the karpenter pods in kube-system."),
            namespace=alerting.SQS_NAMESPACE, metric_name=alerting.DLQ_METRIC,
            dimensions={"QueueName": dlq.name}, statistic="Maximum",
            period=alerting.ALARM_PERIOD_SECONDS, evaluation_periods=1,
            comparison_operator="GreaterThanThreshold", threshold=0,
            treat_missing_data="notBreaching", alarm_actions=[args.alarm_topic_arn],
            ok_actions=[args.alarm_topic_arn],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.alarm_topic_policy]))
        aws.cloudwatch.MetricAlarm(
            f"{self._name}-interruption-age-alarm", name=alerting.age_alarm_name(name),
            alarm_description=("Interruption notices wait unread in the queue: the Karpenter "
                               "controller is down, so announced nodes stop without a drain. "
                               "Check the karpenter pods in kube-system."),
            namespace=alerting.SQS_NAMESPACE, metric_name=alerting.AGE_METRIC,
            dimensions={"QueueName": queue.name}, statistic="Maximum",
            period=alerting.ALARM_PERIOD_SECONDS, evaluation_periods=1,
            comparison_operator="GreaterThanThreshold", threshold=INTERRUPTION_AGE_ALARM_SECONDS,
            treat_missing_data="notBreaching", alarm_actions=[args.alarm_topic_arn],
            ok_actions=[args.alarm_topic_arn],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.alarm_topic_policy]))
        return queue

    def _allow_rules_to_send(self, logical: str, queue: aws.sqs.Queue,
                             rule_arns: pulumi.Output[list[str]]) -> aws.sqs.QueuePolicy:
        def document(values: list) -> str:
            queue_arn, arns = values
            return json.dumps({"Version": "2012-10-17", "Statement": [
                {"Sid": "OnlyOurRulesSend", "Effect": "Allow",
                 "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
                 "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": arns}}},
                {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "sqs:*",
                 "Resource": queue_arn,
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})
        return aws.sqs.QueuePolicy(
            f"{self._name}-{logical}", queue_url=queue.url,
            policy=pulumi.Output.all(queue.arn, rule_arns).apply(document), opts=self._child)

    def _create_controller_role(self, node_role: aws.iam.Role, profile: aws.iam.InstanceProfile,
                                queue: aws.sqs.Queue) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        args = self._args
        role = aws.iam.Role(
            f"{self._name}-controller", description="IRSA role of the Karpenter controller",
            assume_role_policy=iam.irsa_trust_policy(args.oidc_provider_arn, args.oidc_issuer,
                                                     NAMESPACE, SERVICE_ACCOUNT),
            opts=self._child)
        scope = karpenter_iam.ControllerScope(
            partition=args.partition, region=args.region, account_id=args.account_id,
            cluster_name=args.prefix, node_role_arn=node_role.arn,
            instance_profile_arn=profile.arn, interruption_queue_arn=queue.arn)
        grant = aws.iam.RolePolicy(
            f"{self._name}-controller", role=role.name,
            policy=iam.policy_document(karpenter_iam.controller_statements(scope)),
            opts=self._child)
        return role, grant

    def _install_controller(self, role: aws.iam.Role, grant: aws.iam.RolePolicy,
                            queue: aws.sqs.Queue) -> pulumi.Resource:
        args = self._args
        # CRDs in their own chart: Helm installs a chart's crds/ once and never upgrades them.
        crds = k8s.helm.v3.Release(
            f"{self._name}-crd", name="karpenter-crd",
            chart=f"{CHART_REPOSITORY}/karpenter-crd", version=args.chart_version,
            namespace=NAMESPACE, timeout=HELM_TIMEOUT_SECONDS, max_history=10,
            opts=self._child)
        return k8s.helm.v3.Release(
            f"{self._name}-controller", name="karpenter",
            chart=f"{CHART_REPOSITORY}/karpenter", version=args.chart_version, namespace=NAMESPACE,
            skip_crds=True, timeout=HELM_TIMEOUT_SECONDS, max_history=10,
            values={
                "replicas": args.controller_replicas,
                "settings": {"clusterName": args.cluster_name, "interruptionQueue": queue.name},
                "serviceAccount": {"name": SERVICE_ACCOUNT,
                                   "annotations": {"eks.amazonaws.com/role-arn": role.arn}},
                "controller": {"resources": {"requests": {"cpu": "500m", "memory": "512Mi"},
                                             "limits": {"memory": "1Gi"}}},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[crds, grant]))

    def _create_node_class(self, profile: aws.iam.InstanceProfile,
                           depends_on: list[pulumi.Resource]) -> k8s.apiextensions.CustomResource:
        args = self._args
        return k8s.apiextensions.CustomResource(
            f"{self._name}-node-class", api_version="karpenter.k8s.aws/v1", kind="EC2NodeClass",
            metadata={"name": NODE_POOL},
            spec={
                "amiSelectorTerms": [{"alias": args.ami_alias}],
                "instanceProfile": profile.name,
                "subnetSelectorTerms": [{"id": subnet} for subnet in args.subnet_ids],
                "securityGroupSelectorTerms": [{"id": args.node_security_group_id}],
                # Same as the system nodes: IMDSv2, hop limit 1, so pods use IRSA only.
                "metadataOptions": {"httpEndpoint": "enabled", "httpProtocolIPv6": "disabled",
                                    "httpPutResponseHopLimit": 1, "httpTokens": "required"},
                "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {
                    "volumeSize": "50Gi", "volumeType": "gp3", "encrypted": True,
                    "deleteOnTermination": True}}],
                "tags": dict(args.node_tags),
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on))

    def _create_node_pool(self, node_class: pulumi.Resource, controller: list[pulumi.Resource]
                          ) -> k8s.apiextensions.CustomResource:
        args = self._args
        limits = {"cpu": str(args.max_nodes * args.shape.cpu_millis // 1000),
                  "memory": f"{args.max_nodes * args.shape.memory_mib}Mi"}
        return k8s.apiextensions.CustomResource(
            f"{self._name}-node-pool", api_version="karpenter.sh/v1", kind="NodePool",
            metadata={"name": NODE_POOL},
            spec={
                "template": {
                    "metadata": {"labels": {"order-platform/nodes": NODE_POOL}},
                    "spec": {
                        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass",
                                         "name": NODE_POOL},
                        "requirements": [
                            {"key": "node.kubernetes.io/instance-type", "operator": "In",
                             "values": list(args.instance_types)},
                            {"key": "kubernetes.io/arch", "operator": "In",
                             "values": [NODE_ARCHITECTURE]},
                            {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                            {"key": "karpenter.sh/capacity-type", "operator": "In",
                             "values": ["on-demand"]},
                        ],
                        # Nodes are replaced monthly, so none runs an old AMI for long.
                        "expireAfter": "720h",
                    },
                },
                "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized",
                               "consolidateAfter": CONSOLIDATE_AFTER,
                               "budgets": [{"nodes": DISRUPTION_BUDGET_NODES}]},
                # What the HPAs may ask at their maxima, checked by infra/config.py.
                "limits": limits,
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[node_class, *controller],
                custom_timeouts=pulumi.CustomTimeouts(delete=NODE_POOL_DELETE_TIMEOUT)))
