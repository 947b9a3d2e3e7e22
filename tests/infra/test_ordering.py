"""Order: what AWS or Kubernetes needs to exist first is a dependency the engine sees.

The mocks create everything at once and never fail, so these read the dependencies the
program registers (``SimulatedResource.dependencies``: ``depends_on`` plus every input
taken from another resource) rather than waiting for a real `pulumi up` to trip on them.
"""

from __future__ import annotations

from tests.infra.helpers import config_value, deployments, k8s_named, k8s_objects, one

ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def grants_of(run, role_arn: str) -> list:
    """The managed attachments and inline policies of the role with this ARN."""
    role = next(r for r in run.of_type(ROLE) if r.outputs["arn"] == role_arn)
    name = role.outputs["name"]
    found = [r for r in run.of_type(ATTACHMENT) + run.of_type(ROLE_POLICY)
             if r.inputs["role"] == name]
    assert found, f"role {name} has no grants"
    return found


def missing(resource, prerequisites) -> list[str]:
    return [p.name for p in prerequisites if not resource.depends_on(p)]


def test_the_eks_cluster_waits_for_every_grant_of_its_role(run):
    cluster = one(run, "aws:eks/cluster:Cluster")
    grants = grants_of(run, cluster.inputs["roleArn"])
    assert {g.type for g in grants} == {ATTACHMENT, ROLE_POLICY}  # EKS policy and KMS rights
    assert missing(cluster, grants) == []


def test_the_node_group_waits_for_every_grant_of_its_role(run):
    group = one(run, "aws:eks/nodeGroup:NodeGroup")
    grants = grants_of(run, group.inputs["nodeRoleArn"])
    assert len(grants) == 3
    assert missing(group, grants) == []


def test_nat_gateways_and_their_addresses_wait_for_the_internet_gateway(run):
    igw = one(run, "aws:ec2/internetGateway:InternetGateway")
    nats = run.of_type("aws:ec2/natGateway:NatGateway")
    eips = run.of_type("aws:ec2/eip:Eip")
    assert nats and len(eips) == len(nats)
    for resource in (*nats, *eips):
        assert resource.depends_on(igw), resource.name


def test_the_flow_log_waits_for_the_policy_that_lets_it_write(run):
    flow_log = one(run, "aws:ec2/flowLog:FlowLog")
    assert missing(flow_log, grants_of(run, flow_log.inputs["iamRoleArn"])) == []


def test_kubernetes_waits_for_every_access_entry_and_its_policy(run):
    provider = one(run, "pulumi:providers:kubernetes")
    cluster = one(run, "order-platform:cluster:Cluster").urn
    access = [r for r in run.of_type("aws:eks/accessEntry:AccessEntry")
              + run.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
              if r.parent == cluster]
    assert len(access) >= 2
    assert missing(provider, access) == []


def test_the_migration_waits_for_its_network_policies_and_node_capacity(run):
    job = one(run, "kubernetes:batch/v1:Job")
    policies = [r for r in k8s_objects(run) if r.inputs["kind"] == "NetworkPolicy"
                and not r.inputs["metadata"]["name"].endswith("-ingress")]
    optional = {"allow-cache": "cacheEnabled", "allow-telemetry": "collectorEnabled"}
    assert {p.inputs["metadata"]["name"] for p in policies} == {
        "default-deny", "allow-dns", "allow-aws-endpoints", "allow-database",
        *(name for name, key in optional.items() if config_value(run, key))}
    assert missing(job, policies) == []
    assert job.depends_on(one(run, "kubernetes:karpenter.sh/v1:NodePool"))


def test_each_deployment_waits_for_the_migration_and_its_own_ingress_rule(run):
    job = one(run, "kubernetes:batch/v1:Job")
    for name, deployment in deployments(run).items():
        assert deployment.depends_on(job), name
        assert deployment.depends_on(k8s_named(run, "NetworkPolicy", f"{name}-ingress")), name


def test_karpenter_comes_up_in_order(run):
    releases = {r.inputs["name"]: r for r in run.of_type("kubernetes:helm.sh/v3:Release")}
    node_class = one(run, "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")
    node_pool = one(run, "kubernetes:karpenter.sh/v1:NodePool")
    node_entry = next(e for e in run.of_type("aws:eks/accessEntry:AccessEntry")
                      if e.inputs["type"] == "EC2_LINUX")
    profile = one(run, "aws:iam/instanceProfile:InstanceProfile")
    assert releases["karpenter"].depends_on(releases["karpenter-crd"])
    assert node_class.depends_on(releases["karpenter"])
    assert node_class.depends_on(node_entry), "nodes join only once their role has an entry"
    assert node_class.depends_on(profile)
    assert node_pool.depends_on(node_class), "deleted first, so no node loses its class"
    role_arn = next(r.outputs["arn"] for r in run.of_type(ROLE)
                    if r.outputs["name"] == profile.inputs["role"])
    assert missing(profile, grants_of(run, role_arn)) == []


def test_every_alarm_waits_for_the_topic_policy(run):
    policy = one(run, "aws:sns/topicPolicy:TopicPolicy")
    for alarm in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        assert alarm.depends_on(policy), alarm.name


def test_every_rule_target_waits_for_the_queue_policies_that_admit_it(run):
    policies = {p.inputs["queueUrl"]: p for p in run.of_type("aws:sqs/queuePolicy:QueuePolicy")}
    urls = {q.outputs["arn"]: q.outputs["url"] for q in run.of_type("aws:sqs/queue:Queue")}
    for target in run.of_type("aws:cloudwatch/eventTarget:EventTarget"):
        for arn in (target.inputs["arn"], target.inputs["deadLetterConfig"]["arn"]):
            assert target.depends_on(policies[urls[arn]]), target.name
