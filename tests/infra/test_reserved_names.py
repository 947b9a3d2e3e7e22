"""`up` after `destroy` works: no name the program picks is one AWS still keeps.

Some AWS names outlive what they named: a deleted secret's for its recovery window, a final
snapshot's until someone deletes the snapshot, a log group's when the service writing into it
creates it again. ``RESERVED`` lists each such type with the treatment its instances must have;
``NOT_RESERVED`` says, per type, why AWS frees its names at once. A new AWS type must take a
place in one of them.
"""

from __future__ import annotations

import json

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
RANDOM_ID = "random:index/randomId:RandomId"


def _secret_is_unique_or_not_kept(run, secret) -> str | None:
    if "name" not in secret.inputs or secret.inputs.get("recoveryWindowInDays") == 0:
        return None
    return (f"secret {secret.inputs['name']!r} has a fixed name and a "
            f"{secret.inputs.get('recoveryWindowInDays', 30)}-day recovery window: drop the "
            "name (autonaming) or set recovery_window_in_days=0")


def _final_snapshot_is_unique(run, cluster) -> str | None:
    if cluster.inputs.get("skipFinalSnapshot", True):
        return None
    name = cluster.inputs.get("finalSnapshotIdentifier", "")
    suffixes = [r for r in run.of_type(RANDOM_ID) if r.urn in cluster.dependencies]
    if any(name.endswith(f"-{r.outputs['hex']}") for r in suffixes):
        return None
    return (f"final snapshot {name!r} is not unique to this cluster: a second destroy finds the "
            "first one's snapshot under that name (suffix a random.RandomId held in state)")


def _log_group_is_not_recreated(run, group) -> str | None:
    writers = [r for r in run.resources
               if r.type in SERVICE_LOG_GROUPS
               and group.inputs["name"] == SERVICE_LOG_GROUPS[r.type](r.inputs)]
    early = [w.name for w in writers if group.urn not in run.outlived_by(w)]
    if early:
        return (f"log group {group.inputs['name']} may be deleted while {early} still write "
                "into it, and they create it again: make them depend on it")
    return None


RESERVED = {
    "aws:secretsmanager/secret:Secret": (
        "a deleted secret keeps its name for its recovery window (7-30 days)",
        _secret_is_unique_or_not_kept),
    "aws:rds/cluster:Cluster": (
        "the final snapshot keeps its identifier until someone deletes the snapshot",
        _final_snapshot_is_unique),
    "aws:cloudwatch/logGroup:LogGroup": (
        "a service still writing into a deleted log group creates it again",
        _log_group_is_not_recreated),
}
"""Types whose names AWS keeps after a delete, and the check each instance must pass."""

SERVICE_LOG_GROUPS = {
    "aws:eks/cluster:Cluster": lambda inputs: f"/aws/eks/{inputs['name']}/cluster",
    "aws:rds/cluster:Cluster":
        lambda inputs: f"/aws/rds/cluster/{inputs['clusterIdentifier']}/postgresql",
}
"""Log groups a service creates by itself while it runs (the flow-log delivery and the
collector could only with logs:CreateLogGroup, which ``test_no_role_may_create_log_groups``
keeps from every role of the stack)."""

_FREED = "AWS frees the name when the delete completes, and destroy waits for that"
_UNNAMED = "no physical name of ours: AWS or Pulumi's autonaming picks a new one each time"
NOT_RESERVED = {
    "aws:kms/alias:Alias": "DeleteAlias is immediate; only the key waits out its deletion "
                           "window, and a key has no name",
    "aws:sqs/queue:Queue": "a deleted queue's name is refused for 60 seconds; the provider "
                           "retries CreateQueue on QueueDeletedRecently for longer than that",
    "aws:ecr/repository:Repository": "ECR frees the name at once; a repository with images "
                                     "is not deleted at all unless force_delete (dev only)",
    "aws:backup/vault:Vault": "AWS Backup frees the name at once; a vault holding recovery "
                              "points is not deleted at all (docs/deploying.md, destroy)",
    **{token: _FREED for token in (
        "aws:backup/plan:Plan", "aws:backup/selection:Selection",
        "aws:cloudwatch/dashboard:Dashboard", "aws:cloudwatch/eventBus:EventBus",
        "aws:cloudwatch/eventRule:EventRule", "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:eks/cluster:Cluster", "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:elasticache/subnetGroup:SubnetGroup", "aws:iam/role:Role",
        "aws:lb/loadBalancer:LoadBalancer", "aws:lb/targetGroup:TargetGroup",
        "aws:rds/clusterInstance:ClusterInstance", "aws:sns/topic:Topic",
        "aws:cognito/userPoolDomain:UserPoolDomain", "aws:route53/record:Record")},
    **{token: "names only inside its user pool, which has an id of AWS's making" for token in (
        "aws:cognito/userPoolClient:UserPoolClient", "aws:cognito/userGroup:UserGroup",
        "aws:cognito/resourceServer:ResourceServer")},
    "aws:cognito/userPool:UserPool": "a pool's name need not be unique; AWS gives it an id",
    **{token: _UNNAMED for token in (
        "aws:autoscaling/attachment:Attachment", "aws:cloudwatch/eventTarget:EventTarget",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "aws:ec2/eip:Eip",
        "aws:ec2/flowLog:FlowLog", "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/natGateway:NatGateway",
        "aws:ec2/route:Route", "aws:ec2/routeTable:RouteTable",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/subnet:Subnet", "aws:ec2/vpc:Vpc",
        "aws:ec2/vpcEndpoint:VpcEndpoint", "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "aws:eks/accessEntry:AccessEntry",
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "aws:eks/addon:Addon",
        "aws:eks/nodeGroup:NodeGroup", "aws:iam/instanceProfile:InstanceProfile",
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider", ROLE_POLICY,
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:kms/key:Key",
        "aws:lb/listener:Listener", "aws:acm/certificate:Certificate",
        "aws:acm/certificateValidation:CertificateValidation",
        "aws:rds/clusterParameterGroup:ClusterParameterGroup",
        "aws:rds/subnetGroup:SubnetGroup", "aws:secretsmanager/secretVersion:SecretVersion",
        "aws:sns/topicPolicy:TopicPolicy", "aws:sns/topicSubscription:TopicSubscription",
        "aws:sqs/queuePolicy:QueuePolicy", "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")},
}
"""Every other AWS type of the stack, and why a destroy leaves none of its names behind."""


def test_every_aws_type_is_known_to_keep_its_names_or_not(run):
    types = {r.type for r in run.resources if r.type.startswith("aws:")}
    unknown = types - set(RESERVED) - set(NOT_RESERVED)
    assert not unknown, f"add {sorted(unknown)} to RESERVED (with its check) or NOT_RESERVED"


def test_every_name_aws_keeps_is_unique_to_its_creation_or_not_kept(run):
    problems = [problem for token, (_, check) in RESERVED.items()
                for resource in run.of_type(token) if (problem := check(run, resource))]
    assert problems == []


def test_each_reserved_type_is_in_some_stack(stack_runs):
    # The checks above are not vacuous: each type has instances to check (the cache's secret
    # in staging and prod, a final snapshot where dbFinalSnapshot is on).
    for token in RESERVED:
        assert any(run.of_type(token) for run in stack_runs.values()), token
    assert one_with_final_snapshot(stack_runs)


def one_with_final_snapshot(stack_runs) -> bool:
    return any(not c.inputs["skipFinalSnapshot"] for run in stack_runs.values()
               for c in run.of_type("aws:rds/cluster:Cluster"))


def test_every_service_log_group_is_owned_by_the_stack(run):
    names = {g.inputs["name"] for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")}
    for token, name_of in SERVICE_LOG_GROUPS.items():
        for resource in run.of_type(token):
            assert name_of(resource.inputs) in names, f"{resource.name} would create its own"


def test_no_role_may_create_log_groups(run):
    for policy in run.of_type(ROLE_POLICY):
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            actions = statement["Action"]
            actions = [actions] if isinstance(actions, str) else actions
            assert not {"logs:CreateLogGroup", "logs:*", "*"} & set(actions), policy.name
