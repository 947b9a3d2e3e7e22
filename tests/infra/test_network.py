"""Network exposure: the DB is closed to CIDRs, the EKS endpoint and NLB to configured ranges."""

from __future__ import annotations

from tests.infra.helpers import config_value, deployments, k8s_named, one

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SG = "aws:ec2/securityGroup:SecurityGroup"


def db_security_group(run):
    db = one(run, "aws:rds/cluster:Cluster")
    (sg_id,) = db.inputs["vpcSecurityGroupIds"]
    return next(sg for sg in run.of_type(SG) if sg.id == sg_id)


def test_db_security_group_admits_only_the_cluster_on_5432(run):
    sg = db_security_group(run)
    assert not sg.inputs.get("ingress"), "no inline rules that could open it"
    rules = [r for r in run.of_type(INGRESS) if r.inputs["securityGroupId"] == sg.id]
    cluster_sg = one(run, "aws:eks/cluster:Cluster").outputs["vpcConfig"]["clusterSecurityGroupId"]
    assert len(rules) == 1
    rule = rules[0].inputs
    assert "cidrIpv4" not in rule and "cidrIpv6" not in rule and "prefixListId" not in rule
    assert rule["referencedSecurityGroupId"] == cluster_sg
    assert (rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 5432, 5432)


def test_no_security_group_rule_opens_the_database_to_any_cidr(run):
    sg = db_security_group(run)
    for rule in run.of_type(INGRESS) + run.of_type(EGRESS):
        if rule.inputs["securityGroupId"] == sg.id:
            assert "cidrIpv4" not in rule.inputs


def test_db_lives_in_isolated_subnets_and_is_private(run):
    subnets = {s.id: s for s in run.of_type("aws:ec2/subnet:Subnet")}
    group = one(run, "aws:rds/subnetGroup:SubnetGroup")
    assert {subnets[i].inputs["tags"]["tier"] for i in group.inputs["subnetIds"]} == {"isolated"}
    for instance in run.of_type("aws:rds/clusterInstance:ClusterInstance"):
        assert instance.inputs["publiclyAccessible"] is False
    db = one(run, "aws:rds/cluster:Cluster").inputs
    assert db["storageEncrypted"] is True
    assert db["kmsKeyId"].startswith("arn:aws:kms:")
    assert db["manageMasterUserPassword"] is True and "masterPassword" not in db


def test_eks_public_endpoint_cidrs(run, stack_file):
    vpc_config = one(run, "aws:eks/cluster:Cluster").inputs["vpcConfig"]
    assert vpc_config["endpointPrivateAccess"] is True
    assert vpc_config["publicAccessCidrs"] == stack_file["clusterPublicAccessCidrs"]
    if run.stack == "prod":
        assert "0.0.0.0/0" not in vpc_config["publicAccessCidrs"]


def test_eks_public_endpoint_cidrs_per_environment(stack_runs):
    def cidrs(stack):
        return one(stack_runs[stack], "aws:eks/cluster:Cluster").inputs["vpcConfig"][
            "publicAccessCidrs"]
    assert cidrs("dev") == ["0.0.0.0/0"]
    assert "0.0.0.0/0" not in cidrs("staging")
    assert "0.0.0.0/0" not in cidrs("prod")


def test_nlb_listeners_map_to_the_right_services_and_ports(run):
    nlb = one(run, "aws:lb/loadBalancer:LoadBalancer")
    assert nlb.inputs["loadBalancerType"] == "network"
    assert nlb.inputs["enableCrossZoneLoadBalancing"] is True
    groups = {tg.outputs["arn"]: tg for tg in run.of_type("aws:lb/targetGroup:TargetGroup")}
    asg = one(run, "aws:eks/nodeGroup:NodeGroup").outputs["resources"][0]["autoscalingGroups"][0][
        "name"]
    attachments = {a.inputs["lbTargetGroupArn"]: a.inputs["autoscalingGroupName"]
                   for a in run.of_type("aws:autoscaling/attachment:Attachment")}
    by_port = {}
    for listener in run.of_type("aws:lb/listener:Listener"):
        assert listener.inputs["loadBalancerArn"] == nlb.outputs["arn"]
        (action,) = listener.inputs["defaultActions"]
        by_port[listener.inputs["port"]] = groups[action["targetGroupArn"]]
    assert set(by_port) == {3000, 3001}
    for port, service in ((3000, "write-api"), (3001, "read-api")):
        group = by_port[port]
        svc = k8s_named(run, "Service", service).inputs["spec"]
        (svc_port,) = svc["ports"]
        assert group.inputs["port"] == svc_port["nodePort"]
        assert group.inputs["targetType"] == "instance"
        assert group.inputs["healthCheck"]["path"] == "/readyz"
        assert group.inputs["healthCheck"]["protocol"] == "HTTP"
        assert attachments[group.outputs["arn"]] == asg
        container = deployments(run)[service].inputs["spec"]["template"]["spec"]["containers"][0]
        assert svc["selector"] == deployments(run)[service].inputs["spec"]["selector"][
            "matchLabels"]
        assert svc_port["port"] == container["ports"][0]["containerPort"] == port
        assert svc_port["targetPort"] == container["ports"][0]["name"]


def test_nlb_admits_only_the_configured_cidrs(run, stack_file):
    nlb = one(run, "aws:lb/loadBalancer:LoadBalancer")
    (sg_id,) = nlb.inputs["securityGroups"]
    rules = [r.inputs for r in run.of_type(INGRESS) if r.inputs["securityGroupId"] == sg_id]
    assert {(r["fromPort"], r["cidrIpv4"]) for r in rules} == {
        (port, cidr) for port in (3000, 3001) for cidr in stack_file["nlbAllowedCidrs"]}
    cluster_sg = one(run, "aws:eks/cluster:Cluster").outputs["vpcConfig"]["clusterSecurityGroupId"]
    node_rules = [r.inputs for r in run.of_type(INGRESS)
                  if r.inputs["securityGroupId"] == cluster_sg]
    assert {r["fromPort"] for r in node_rules} == {30300, 30301}
    assert all(r["referencedSecurityGroupId"] == sg_id for r in node_rules)


def test_nlb_cidr_override_reaches_the_security_group():
    from infra.simulation import run_stack
    changed = run_stack("staging", {"nlbAllowedCidrs": ["192.0.2.0/24"]})
    nlb = one(changed, "aws:lb/loadBalancer:LoadBalancer")
    cidrs = {r.inputs["cidrIpv4"] for r in changed.of_type(INGRESS)
             if r.inputs["securityGroupId"] == nlb.inputs["securityGroups"][0]}
    assert cidrs == {"192.0.2.0/24"}


def test_eks_cluster_is_hardened(run):
    cluster = one(run, "aws:eks/cluster:Cluster").inputs
    assert cluster["encryptionConfig"]["resources"] == ["secrets"]
    assert cluster["encryptionConfig"]["provider"]["keyArn"].startswith("arn:aws:kms:")
    assert set(cluster["enabledClusterLogTypes"]) == {
        "api", "audit", "authenticator", "controllerManager", "scheduler"}
    assert cluster["accessConfig"]["authenticationMode"] == "API"
    assert cluster["version"] == config_value(run, "kubernetesVersion")
    private = {s.id for s in run.of_type("aws:ec2/subnet:Subnet")
               if s.inputs["tags"]["tier"] == "private"}
    assert set(cluster["vpcConfig"]["subnetIds"]) == private
    assert set(one(run, "aws:eks/nodeGroup:NodeGroup").inputs["subnetIds"]) == private


def test_flow_logs_and_endpoints(run):
    vpc = one(run, "aws:ec2/vpc:Vpc")
    flow = one(run, "aws:ec2/flowLog:FlowLog").inputs
    assert flow["vpcId"] == vpc.id and flow["trafficType"] == "ALL"
    services = {e.inputs["serviceName"].rsplit(".", 1)[-1] if "ecr" not in e.inputs[
        "serviceName"] else e.inputs["serviceName"].split(".", 3)[-1]
        for e in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")}
    assert {"s3", "ecr.api", "ecr.dkr", "sqs", "events", "secretsmanager", "sts"} <= services


def test_subnets_are_in_the_regions_own_zones_never_a_local_zone(run):
    from infra.mock_cloud import LOCAL_ZONE_SUFFIX

    zones = {s.inputs["availabilityZone"] for s in run.of_type("aws:ec2/subnet:Subnet")}
    assert len(zones) == config_value(run, "azCount")
    assert not any(zone.endswith(LOCAL_ZONE_SUFFIX) for zone in zones), zones
    (lookup,) = [i for i in run.invocations if i.token.endswith("getAvailabilityZones")]
    assert {"name": "opt-in-status", "values": ["opt-in-not-required"]} in lookup.args["filters"]


def test_the_flow_log_role_has_what_aws_documents_as_required(run):
    import json

    flow_log = one(run, "aws:ec2/flowLog:FlowLog")
    role = next(r for r in run.of_type("aws:iam/role:Role")
                if r.outputs["arn"] == flow_log.inputs["iamRoleArn"])
    allowed = {action for policy in run.of_type("aws:iam/rolePolicy:RolePolicy")
               if policy.inputs["role"] == role.outputs["name"]
               for statement in json.loads(policy.inputs["policy"])["Statement"]
               for action in statement["Action"]}
    # docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html (CreateLogGroup left out:
    # the group is the stack's, test_reserved_names.py).
    assert allowed == {"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups",
                       "logs:DescribeLogStreams"}
