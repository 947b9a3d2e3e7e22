"""What the Karpenter controller may do in AWS: the statements of its IRSA role (pure data).

Derived from the policies of Karpenter's getting-started CloudFormation template (v1.14),
narrowed to how this program runs it: on-demand nodes only, an instance profile that Pulumi
creates (so no instance-profile management), zonal shift off. Every action that creates,
tags or terminates something is limited to resources tagged as this cluster's Karpenter
nodes; ``Resource: "*"`` appears only with read-only actions that have no resource scope.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from infra.components import iam

READ_ONLY_UNSCOPED = (
    "ec2:DescribeCapacityReservations", "ec2:DescribeImages", "ec2:DescribeInstances",
    "ec2:DescribeInstanceStatus", "ec2:DescribeInstanceTypeOfferings",
    "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplates",
    "ec2:DescribePlacementGroups", "ec2:DescribeSecurityGroups",
    "ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets",
)
"""Describe calls cannot be scoped to resources; they are held to the stack's region."""


@dataclass(frozen=True)
class ControllerScope:
    """Where the controller acts: one cluster, one region, one node role and profile, one queue."""

    partition: str
    region: str
    account_id: str
    cluster_name: str
    node_role_arn: pulumi.Input[str]
    instance_profile_arn: pulumi.Input[str]
    interruption_queue_arn: pulumi.Input[str]

    def ec2(self, kind: str, owner: str = "*") -> str:
        """An EC2 ARN pattern of this region (``owner`` empty for AMIs and snapshots)."""
        return f"arn:{self.partition}:ec2:{self.region}:{owner}:{kind}/*"


def _tagged_by_karpenter(scope: ControllerScope, key: str) -> dict:
    """Tags that mark what Karpenter launched for this cluster (``ResourceTag``/``RequestTag``)."""
    return {"StringEquals": {f"aws:{key}/kubernetes.io/cluster/{scope.cluster_name}": "owned"},
            "StringLike": {f"aws:{key}/karpenter.sh/nodepool": "*"}}


def controller_statements(scope: ControllerScope) -> list[dict]:
    """The controller's policy statements (``iam.statement`` dicts, Outputs allowed)."""
    launched = [scope.ec2(kind) for kind in ("fleet", "instance", "volume", "network-interface",
                                             "launch-template")]
    request_tags = _tagged_by_karpenter(scope, "RequestTag")
    request_tags["StringEquals"]["aws:RequestTag/eks:eks-cluster-name"] = scope.cluster_name
    return [
        iam.statement("LaunchIntoThisRegion", ["ec2:RunInstances", "ec2:CreateFleet"], [
            scope.ec2("image", ""), scope.ec2("snapshot", ""), scope.ec2("security-group"),
            scope.ec2("subnet"), scope.ec2("capacity-reservation"),
            scope.ec2("placement-group")]),
        iam.statement("LaunchFromOwnTemplates", ["ec2:RunInstances", "ec2:CreateFleet"],
                      [scope.ec2("launch-template")],
                      _tagged_by_karpenter(scope, "ResourceTag")),
        iam.statement("CreateOnlyTagged",
                      ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
                      launched, request_tags),
        iam.statement("TagWhileCreating", ["ec2:CreateTags"], launched, {
            **request_tags, "StringEquals": {
                **request_tags["StringEquals"],
                "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"]}}),
        iam.statement("TagOwnInstances", ["ec2:CreateTags"], [scope.ec2("instance")], {
            **_tagged_by_karpenter(scope, "ResourceTag"),
            "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": scope.cluster_name},
            "ForAllValues:StringEquals": {
                "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]}}),
        iam.statement("DeleteOwnInstancesAndTemplates",
                      ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
                      [scope.ec2("instance"), scope.ec2("launch-template")],
                      _tagged_by_karpenter(scope, "ResourceTag")),
        iam.statement("PassNodeRoleToEc2", ["iam:PassRole"], [scope.node_role_arn],
                      {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
        iam.statement("ReadNodeInstanceProfile", ["iam:GetInstanceProfile"],
                      [scope.instance_profile_arn]),
        iam.statement("ListInstanceProfiles", ["iam:ListInstanceProfiles"], ["*"]),
        iam.statement("DiscoverApiServer", ["eks:DescribeCluster"], [
            f"arn:{scope.partition}:eks:{scope.region}:{scope.account_id}"
            f":cluster/{scope.cluster_name}"]),
        iam.statement("ConsumeInterruptionQueue",
                      ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
                      [scope.interruption_queue_arn]),
        iam.statement("DescribeThisRegion", list(READ_ONLY_UNSCOPED), ["*"],
                      {"StringEquals": {"aws:RequestedRegion": scope.region}}),
        iam.statement("ReadPublicAmiParameters", ["ssm:GetParameter"], [
            f"arn:{scope.partition}:ssm:{scope.region}::parameter/aws/service/*"]),
        iam.statement("ReadPrices", ["pricing:GetProducts"], ["*"]),
    ]
