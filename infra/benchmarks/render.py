"""A simulated stack as checkov's inputs: Kubernetes manifests and a Terraform-plan JSON.

Kubernetes objects are already manifests (the engine sees ``metadata``/``spec`` in camelCase);
only ``apiVersion``, which the SDK keeps in the type token, is put back.

AWS resources become ``planned_values`` resources of a Terraform plan: the type from
``TERRAFORM_TYPES``, attributes from the resource's state with camelCase names in snake_case
(and the few names Pulumi pluralised back in the singular), and a ``configuration`` that lists,
for each attribute whose value is another resource's id, ARN or name, a reference to that
resource, which is what Terraform would record and what checkov's graph checks follow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from infra.simulation import SimulatedResource, StackRun

TERRAFORM_TYPES = {
    "aws:acm/certificate:Certificate": "aws_acm_certificate",
    "aws:acm/certificateValidation:CertificateValidation": "aws_acm_certificate_validation",
    "aws:autoscaling/attachment:Attachment": "aws_autoscaling_attachment",
    "aws:backup/plan:Plan": "aws_backup_plan",
    "aws:backup/selection:Selection": "aws_backup_selection",
    "aws:backup/vault:Vault": "aws_backup_vault",
    "aws:cloudwatch/dashboard:Dashboard": "aws_cloudwatch_dashboard",
    "aws:cloudwatch/eventBus:EventBus": "aws_cloudwatch_event_bus",
    "aws:cloudwatch/eventRule:EventRule": "aws_cloudwatch_event_rule",
    "aws:cloudwatch/eventTarget:EventTarget": "aws_cloudwatch_event_target",
    "aws:cloudwatch/logGroup:LogGroup": "aws_cloudwatch_log_group",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "aws_cloudwatch_metric_alarm",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "aws_default_security_group",
    "aws:ec2/eip:Eip": "aws_eip",
    "aws:ec2/flowLog:FlowLog": "aws_flow_log",
    "aws:ec2/internetGateway:InternetGateway": "aws_internet_gateway",
    "aws:ec2/launchTemplate:LaunchTemplate": "aws_launch_template",
    "aws:ec2/natGateway:NatGateway": "aws_nat_gateway",
    "aws:ec2/route:Route": "aws_route",
    "aws:ec2/routeTable:RouteTable": "aws_route_table",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "aws_route_table_association",
    "aws:ec2/securityGroup:SecurityGroup": "aws_security_group",
    "aws:ec2/subnet:Subnet": "aws_subnet",
    "aws:ec2/vpc:Vpc": "aws_vpc",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "aws_vpc_endpoint",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "aws_ecr_lifecycle_policy",
    "aws:ecr/repository:Repository": "aws_ecr_repository",
    "aws:eks/accessEntry:AccessEntry": "aws_eks_access_entry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation":
        "aws_eks_access_policy_association",
    "aws:eks/addon:Addon": "aws_eks_addon",
    "aws:eks/cluster:Cluster": "aws_eks_cluster",
    "aws:eks/nodeGroup:NodeGroup": "aws_eks_node_group",
    "aws:elasticache/replicationGroup:ReplicationGroup": "aws_elasticache_replication_group",
    "aws:elasticache/subnetGroup:SubnetGroup": "aws_elasticache_subnet_group",
    "aws:iam/instanceProfile:InstanceProfile": "aws_iam_instance_profile",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "aws_iam_openid_connect_provider",
    "aws:iam/role:Role": "aws_iam_role",
    "aws:iam/rolePolicy:RolePolicy": "aws_iam_role_policy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "aws_iam_role_policy_attachment",
    "aws:kms/alias:Alias": "aws_kms_alias",
    "aws:kms/key:Key": "aws_kms_key",
    "aws:lb/listener:Listener": "aws_lb_listener",
    "aws:lb/loadBalancer:LoadBalancer": "aws_lb",
    "aws:lb/targetGroup:TargetGroup": "aws_lb_target_group",
    "aws:rds/cluster:Cluster": "aws_rds_cluster",
    "aws:rds/clusterInstance:ClusterInstance": "aws_rds_cluster_instance",
    "aws:rds/clusterParameterGroup:ClusterParameterGroup": "aws_rds_cluster_parameter_group",
    "aws:rds/subnetGroup:SubnetGroup": "aws_db_subnet_group",
    "aws:secretsmanager/secret:Secret": "aws_secretsmanager_secret",
    "aws:secretsmanager/secretVersion:SecretVersion": "aws_secretsmanager_secret_version",
    "aws:sns/topic:Topic": "aws_sns_topic",
    "aws:sns/topicPolicy:TopicPolicy": "aws_sns_topic_policy",
    "aws:sns/topicSubscription:TopicSubscription": "aws_sns_topic_subscription",
    "aws:route53/record:Record": "aws_route53_record",
    "aws:cognito/userPool:UserPool": "aws_cognito_user_pool",
    "aws:cognito/userPoolClient:UserPoolClient": "aws_cognito_user_pool_client",
    "aws:cognito/userPoolDomain:UserPoolDomain": "aws_cognito_user_pool_domain",
    "aws:cognito/userGroup:UserGroup": "aws_cognito_user_group",
    "aws:cognito/resourceServer:ResourceServer": "aws_cognito_resource_server",
    "aws:sqs/queue:Queue": "aws_sqs_queue",
    "aws:sqs/queuePolicy:QueuePolicy": "aws_sqs_queue_policy",
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": "aws_sqs_queue_redrive_allow_policy",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule":
        "aws_vpc_security_group_egress_rule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        "aws_vpc_security_group_ingress_rule",
}
"""Every AWS type the program may create, as its Terraform resource type. A type missing here
is a type checkov never sees: ``tests/infra/test_benchmarks.py`` fails on it."""

NOT_SCANNED = ("pulumi:providers:", "order-platform:", "kubernetes:helm.sh/")
"""Providers and components hold no cloud object; a Helm release's objects are rendered by the
chart at install time, so checkov cannot see them offline (docs/supply-chain.md)."""

SINGULAR = {
    "encryption_configurations": "encryption_configuration",
    "default_actions": "default_action",
    "client_id_lists": "client_id_list",
    "thumbprint_lists": "thumbprint_list",
    "parameters": "parameter",
    "ingresses": "ingress",
    "egresses": "egress",
}
"""Attributes Pulumi names in the plural where Terraform uses the block's singular name."""

MAPS = frozenset({"tags", "tags_all", "labels", "dimensions", "annotations"})
"""Map-typed attributes: their keys are data, kept as written."""

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")
_REFERENCED_OUTPUTS = ("id", "arn", "name")


def snake(name: str) -> str:
    """``enabledClusterLogTypes`` -> ``enabled_cluster_log_types`` (Terraform's names)."""
    plain = _CAMEL.sub(r"_\1", name).lower()
    return SINGULAR.get(plain, plain)


def terraform_values(value, key: str = ""):
    """A Pulumi state value with Terraform's attribute names (map attributes left alone)."""
    if isinstance(value, dict):
        if key in MAPS:
            return dict(value)
        return {snake(k): terraform_values(v, snake(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [terraform_values(item, key) for item in value]
    return value


def terraform_name(resource: SimulatedResource) -> str:
    """The resource's logical name as a Terraform resource name."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", resource.name)


def scanned_aws(run: StackRun) -> list[SimulatedResource]:
    """The AWS resources of a run that are rendered into the plan."""
    return [r for r in run.resources if r.type.startswith("aws:")]


def kubernetes_objects(run: StackRun) -> list[SimulatedResource]:
    """The Kubernetes objects of a run that are rendered as manifests."""
    return [r for r in run.resources
            if r.type.startswith("kubernetes:") and not r.type.startswith(NOT_SCANNED)]


def manifest(resource: SimulatedResource) -> dict:
    """A Kubernetes object as its YAML manifest."""
    group_version, kind = resource.type.removeprefix("kubernetes:").rsplit(":", 1)
    api_version = group_version.removeprefix("core/")
    return {"apiVersion": api_version, "kind": kind,
            **{k: v for k, v in resource.inputs.items() if k not in ("apiVersion", "kind")}}


def terraform_plan(run: StackRun) -> dict:
    """The AWS side of a run as a Terraform plan (``terraform show -json`` shape)."""
    resources = scanned_aws(run)
    unknown = sorted({r.type for r in resources} - set(TERRAFORM_TYPES))
    if unknown:
        raise KeyError(f"no Terraform type for {unknown}: add them to TERRAFORM_TYPES")
    addresses = {r.urn: f"{TERRAFORM_TYPES[r.type]}.{terraform_name(r)}" for r in resources}
    owners = _owners(resources, addresses)
    planned, configured = [], []
    for resource in resources:
        address = addresses[resource.urn]
        tf_type, name = address.split(".", 1)
        values = terraform_values(resource.outputs)
        planned.append({"address": address, "mode": "managed", "type": tf_type, "name": name,
                        "provider_name": "registry.terraform.io/hashicorp/aws",
                        "schema_version": 0, "values": values})
        configured.append({"address": address, "mode": "managed", "type": tf_type,
                           "name": name, "provider_config_key": "aws",
                           "expressions": _references(values, owners, address)})
    return {"format_version": "1.2", "terraform_version": "1.9.0",
            "planned_values": {"root_module": {"resources": planned}},
            "configuration": {"root_module": {"resources": configured}}}


def _owners(resources: Iterable[SimulatedResource], addresses: dict[str, str]) -> dict[str, str]:
    """``{value: "<address>.<attribute>"}`` for every id, ARN and name a resource reports."""
    owners: dict[str, str] = {}
    for resource in resources:
        for attribute in _REFERENCED_OUTPUTS:
            value = resource.outputs.get(attribute) if attribute != "id" else resource.id
            if isinstance(value, str) and value:
                owners.setdefault(value, f"{addresses[resource.urn]}.{attribute}")
    return owners


def _references(values: dict, owners: dict[str, str], own_address: str) -> dict:
    expressions = {}
    for key, value in values.items():
        candidates = value if isinstance(value, list) else [value]
        found = [owners[v] for v in candidates
                 if isinstance(v, str) and v in owners and not owners[v].startswith(own_address)]
        if found:
            # Terraform lists the attribute and the resource it belongs to.
            expressions[key] = {"references": [ref for f in found
                                               for ref in (f, f.rsplit(".", 1)[0])]}
    return expressions


def write_stack(run: StackRun, directory: Path) -> dict[str, Path]:
    """Write ``<stack>/kubernetes.yaml`` and ``<stack>/tfplan.json`` under ``directory``."""
    import yaml

    target = directory / run.stack
    target.mkdir(parents=True, exist_ok=True)
    manifests = target / "kubernetes.yaml"
    manifests.write_text(yaml.safe_dump_all([manifest(r) for r in kubernetes_objects(run)],
                                            sort_keys=False), encoding="utf-8")
    plan = target / "tfplan.json"
    plan.write_text(json.dumps(terraform_plan(run), indent=1), encoding="utf-8")
    return {"kubernetes": manifests, "terraform_plan": plan}
