"""The EKS cluster: its role, KMS envelope encryption, logs, node group, OIDC, add-ons, provider."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.components import iam

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
_MANAGED = "arn:aws:iam::aws:policy/"
CLUSTER_ROLE_POLICIES = ("AmazonEKSClusterPolicy",)
NODE_ROLE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly",
                      "AmazonEKS_CNI_Policy")


@dataclass(frozen=True)
class ClusterArgs:
    """What the cluster needs from the network and the stack config."""

    cluster_name: str
    kubernetes_version: str
    region: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: list[pulumi.Input[str]]
    public_access_cidrs: tuple[str, ...]
    admin_role_arns: tuple[str, ...]
    node_instance_types: tuple[str, ...]
    node_min_size: int
    node_desired_size: int
    node_max_size: int
    log_retention_days: int


class Cluster(pulumi.ComponentResource):
    """An EKS cluster with one managed node group and a Kubernetes provider for its workloads."""

    name: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    node_autoscaling_group_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:cluster:Cluster", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)

        key = self._create_secrets_key()
        role = self._create_role("cluster", "eks.amazonaws.com", CLUSTER_ROLE_POLICIES)
        # The managed cluster policy has no KMS rights; envelope encryption needs these on our key.
        aws.iam.RolePolicy(f"{name}-cluster-kms", role=role.name, policy=iam.policy_document([
            iam.statement("EnvelopeEncryption", ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants",
                                                 "kms:DescribeKey"], [key.arn])]),
                           opts=self._child)
        self.cluster = self._create_cluster(role, key)
        self.name = self.cluster.name
        self.security_group_id = self.cluster.vpc_config.cluster_security_group_id
        self.oidc_issuer = self.cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
        self.oidc_provider_arn = self._create_oidc_provider().arn
        self._create_access_entries()
        network_addons = [self._create_addon(addon, []) for addon in ("vpc-cni", "kube-proxy")]
        node_group = self._create_node_group(network_addons)
        self.node_autoscaling_group_name = node_group.resources.apply(
            lambda res: res[0].autoscaling_groups[0].name)
        node_addons = [self._create_addon(addon, [node_group])
                       for addon in ("coredns", "metrics-server")]
        self.kubeconfig = pulumi.Output.secret(self._kubeconfig())
        self.provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[node_group, *node_addons]))

        self.register_outputs({
            "name": self.name,
            "securityGroupId": self.security_group_id,
            "oidcProviderArn": self.oidc_provider_arn,
            "kubeconfig": self.kubeconfig,
        })

    def _create_secrets_key(self) -> aws.kms.Key:
        key = aws.kms.Key(f"{self._name}-secrets",
                          description=f"Envelope encryption of {self._args.cluster_name} secrets",
                          enable_key_rotation=True, deletion_window_in_days=30, opts=self._child)
        aws.kms.Alias(f"{self._name}-secrets", name=f"alias/{self._args.cluster_name}-eks-secrets",
                      target_key_id=key.key_id, opts=self._child)
        return key

    def _create_role(self, purpose: str, principal: str, managed: tuple[str, ...]) -> aws.iam.Role:
        role = aws.iam.Role(f"{self._name}-{purpose}",
                            assume_role_policy=iam.service_trust_policy(principal),
                            opts=self._child)
        for policy in managed:
            aws.iam.RolePolicyAttachment(f"{self._name}-{purpose}-{policy}", role=role.name,
                                         policy_arn=_MANAGED + policy, opts=self._child)
        return role

    def _create_cluster(self, role: aws.iam.Role, key: aws.kms.Key) -> aws.eks.Cluster:
        args = self._args
        # EKS would create this group itself, unmanaged and kept forever; owning it sets the
        # retention and lets `pulumi destroy` remove it.
        log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-control-plane", name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_in_days=args.log_retention_days, opts=self._child)
        return aws.eks.Cluster(
            f"{self._name}-eks",
            name=args.cluster_name,
            version=args.kubernetes_version,
            role_arn=role.arn,
            access_config={"authentication_mode": "API",
                           "bootstrap_cluster_creator_admin_permissions": True},
            # Core add-ons are managed below (vpc-cni with network policy enforcement on).
            bootstrap_self_managed_addons=False,
            encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            vpc_config={
                "subnet_ids": args.private_subnet_ids,
                "endpoint_private_access": True,
                "endpoint_public_access": True,
                "public_access_cidrs": list(args.public_access_cidrs),
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]))

    def _create_oidc_provider(self) -> aws.iam.OpenIdConnectProvider:
        return aws.iam.OpenIdConnectProvider(
            f"{self._name}-oidc", url=self.oidc_issuer, client_id_lists=["sts.amazonaws.com"],
            opts=self._child)

    def _create_access_entries(self) -> None:
        for index, role_arn in enumerate(self._args.admin_role_arns):
            entry = aws.eks.AccessEntry(f"{self._name}-admin-{index}",
                                        cluster_name=self.cluster.name, principal_arn=role_arn,
                                        type="STANDARD", opts=self._child)
            aws.eks.AccessPolicyAssociation(
                f"{self._name}-admin-{index}", cluster_name=self.cluster.name,
                principal_arn=role_arn, policy_arn=CLUSTER_ADMIN_POLICY,
                access_scope={"type": "cluster"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]))

    def _create_addon(self, addon: str, depends_on: list[pulumi.Resource]) -> aws.eks.Addon:
        configuration = None
        if addon == "vpc-cni":
            # Without this the NetworkPolicies of the workloads would be accepted but not enforced.
            configuration = json.dumps({"enableNetworkPolicy": "true"})
        return aws.eks.Addon(
            f"{self._name}-{addon}", cluster_name=self.cluster.name, addon_name=addon,
            configuration_values=configuration,
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on))

    def _create_node_group(self, addons: list[aws.eks.Addon]) -> aws.eks.NodeGroup:
        args = self._args
        role = self._create_role("node", "ec2.amazonaws.com", NODE_ROLE_POLICIES)
        # IMDSv2 with a hop limit of 1 keeps pods off the node role: they use IRSA only.
        template = aws.ec2.LaunchTemplate(
            f"{self._name}-nodes",
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required",
                              "http_put_response_hop_limit": 1},
            block_device_mappings=[{"device_name": "/dev/xvda", "ebs": {
                "volume_size": 50, "volume_type": "gp3", "encrypted": "true",
                "delete_on_termination": "true"}}],
            update_default_version=True, opts=self._child)
        return aws.eks.NodeGroup(
            f"{self._name}-nodes",
            cluster_name=self.cluster.name,
            node_role_arn=role.arn,
            subnet_ids=args.private_subnet_ids,
            instance_types=list(args.node_instance_types),
            ami_type="AL2023_x86_64_STANDARD",
            capacity_type="ON_DEMAND",
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            scaling_config={"min_size": args.node_min_size, "desired_size": args.node_desired_size,
                            "max_size": args.node_max_size},
            update_config={"max_unavailable": 1},
            opts=pulumi.ResourceOptions(parent=self, depends_on=addons,
                                        ignore_changes=["scalingConfig.desiredSize"]))

    def _kubeconfig(self) -> pulumi.Output[str]:
        def render(values: list[str]) -> str:
            name, endpoint, ca = values
            return json.dumps({
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": name, "cluster": {
                    "server": endpoint, "certificate-authority-data": ca}}],
                "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
                "current-context": name,
                "users": [{"name": name, "user": {"exec": {
                    "apiVersion": "client.authentication.k8s.io/v1beta1",
                    "command": "aws",
                    "args": ["eks", "get-token", "--cluster-name", name,
                             "--region", self._args.region, "--output", "json"],
                }}}],
            })
        return pulumi.Output.all(self.cluster.name, self.cluster.endpoint,
                                 self.cluster.certificate_authority.data).apply(render)
