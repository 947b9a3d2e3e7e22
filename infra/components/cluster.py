"""The EKS cluster: its role, KMS envelope encryption, logs, access entries, the system node group,
OIDC, add-ons pinned to the Kubernetes version, and the provider for everything inside it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.capacity import NODE_ARCHITECTURE
from infra.components import iam, kms
from infra.components.component import Component
from infra.config import ClusterAccess
from infra.kubernetes_versions import KubernetesRelease

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
ACCESS_POLICY = "arn:aws:eks::aws:cluster-access-policy/"
CLUSTER_ADMIN_POLICY = ACCESS_POLICY + "AmazonEKSClusterAdminPolicy"
VIEW_POLICY = ACCESS_POLICY + "AmazonEKSViewPolicy"
_MANAGED = "arn:aws:iam::aws:policy/"
CLUSTER_ROLE_POLICIES = ("AmazonEKSClusterPolicy",)
NODE_ROLE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly",
                      "AmazonEKS_CNI_Policy")
AMI_TYPES = {"amd64": "AL2023_x86_64_STANDARD", "arm64": "AL2023_ARM_64_STANDARD"}
NETWORK_ADDONS = ("vpc-cni", "kube-proxy")
"""Nodes become Ready only with these."""
NODE_ADDONS = ("coredns", "metrics-server")
"""These run on nodes, so they wait for the node group."""
MINUTES_PER_NODE_REPLACEMENT = 20
"""A rolling node-group update launches a node, then drains one (EKS waits up to 15 minutes
for PodDisruptionBudgets before it forces the eviction)."""


@dataclass(frozen=True)
class SystemNodes:
    """The managed node group: Karpenter, CoreDNS, metrics-server and the NLB's NodePorts."""

    instance_types: tuple[str, ...]
    min_size: int
    desired_size: int
    max_size: int


@dataclass(frozen=True)
class ClusterArgs:
    """What the cluster needs from the network and the stack config."""

    cluster_name: str
    kubernetes: KubernetesRelease
    """The Kubernetes version and every add-on and AMI version pinned to it."""
    support_type: str
    """``STANDARD`` or ``EXTENDED``: what happens when the version's standard support ends."""
    region: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    public_access_cidrs: tuple[str, ...]
    access: ClusterAccess
    system_nodes: SystemNodes
    log_retention_days: int
    log_kms_key_arn: pulumi.Input[str]
    egress: list[pulumi.Resource]
    """The nodes' way to AWS and the internet (NAT routes, VPC endpoints): the nodes wait for it
    to join, and on destroy it outlives them and everything running on them (Karpenter)."""


def running_version(name: str, opts: pulumi.InvokeOptions) -> str | None:
    """The Kubernetes minor the stack's cluster runs now; None before its first `up`.

    Read so that a jump of more than one minor, or a version AWS upgraded the cluster past at
    the end of its support, is refused before anything changes (EKS refuses both half-way).
    """
    if name not in aws.eks.get_clusters(opts=opts).names:
        return None
    return aws.eks.get_cluster(name=name, opts=opts).version


def access_entry_name(role_arn: str) -> str:
    """A logical-name suffix per role that does not move when the lists are reordered."""
    return f"{role_arn.rsplit('/', 1)[-1]}-{hashlib.sha256(role_arn.encode()).hexdigest()[:6]}"


class Cluster(Component[ClusterArgs]):
    """An EKS cluster with a system node group and a Kubernetes provider for its workloads."""

    name: pulumi.Output[str]
    version: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    node_autoscaling_group_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:cluster:Cluster", name, args, opts)

        key = self._create_secrets_key()
        role, attachments = self._create_role("cluster", "eks.amazonaws.com",
                                              CLUSTER_ROLE_POLICIES)
        # The managed cluster policy has no KMS rights; envelope encryption needs these on our key.
        kms = aws.iam.RolePolicy(f"{name}-cluster-kms", role=role.name, policy=iam.policy_document([
            iam.statement("EnvelopeEncryption", ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants",
                                                 "kms:DescribeKey"], [key.arn])]),
                                 opts=self._child)
        # EKS checks the role's rights while it creates the cluster, and needs them again to
        # delete its ENIs and security groups: the grants live as long as the cluster.
        self.cluster = self._create_cluster(role, key, [*attachments, kms])
        self.name = self.cluster.name
        self.version = self.cluster.version
        self.security_group_id = self.cluster.vpc_config.cluster_security_group_id
        self.oidc_issuer = self.cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
        self.oidc_provider_arn = self._create_oidc_provider().arn
        access = self._create_access_entries()
        network_addons = [self._create_addon(addon, []) for addon in NETWORK_ADDONS]
        node_group = self._create_node_group(network_addons)
        self.node_autoscaling_group_name = node_group.resources.apply(
            lambda res: res[0].autoscaling_groups[0].name)
        node_addons = [self._create_addon(addon, [node_group]) for addon in NODE_ADDONS]
        self.nodes_ready: list[pulumi.Resource] = [node_group, *node_addons]
        """What pods need before they can run: the system nodes and their add-ons."""
        self.kubeconfig = pulumi.Output.secret(self._kubeconfig())
        # Every Kubernetes call of the program authenticates as a deployer role: its access
        # entry must exist first, or the first `up` gets Unauthorized.
        self.provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self,
                                        depends_on=[node_group, *node_addons, *access]))

        self.register_outputs({
            "name": self.name,
            "securityGroupId": self.security_group_id,
            "oidcProviderArn": self.oidc_provider_arn,
            "kubeconfig": self.kubeconfig,
        })

    def _create_secrets_key(self) -> aws.kms.Key:
        cluster_name = self._args.cluster_name
        return kms.aliased_key(f"{self._name}-secrets",
                               f"Envelope encryption of {cluster_name} secrets",
                               f"{cluster_name}-eks-secrets", self._child)

    def _create_role(self, purpose: str, principal: str, managed: tuple[str, ...]
                     ) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
        role = aws.iam.Role(f"{self._name}-{purpose}",
                            assume_role_policy=iam.service_trust_policy(principal),
                            opts=self._child)
        attachments = [aws.iam.RolePolicyAttachment(f"{self._name}-{purpose}-{policy}",
                                                    role=role.name, policy_arn=_MANAGED + policy,
                                                    opts=self._child)
                       for policy in managed]
        return role, attachments

    def _create_cluster(self, role: aws.iam.Role, key: aws.kms.Key,
                        grants: list[pulumi.Resource]) -> aws.eks.Cluster:
        args = self._args
        # EKS would create this group itself, unmanaged and kept forever; owning it sets the
        # retention and lets `pulumi destroy` remove it.
        log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-control-plane", name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_in_days=args.log_retention_days, kms_key_id=args.log_kms_key_arn,
            opts=self._child)
        return aws.eks.Cluster(
            f"{self._name}-eks",
            name=args.cluster_name,
            version=args.kubernetes.version,
            role_arn=role.arn,
            # Who may use the cluster is the access entries below, not who happened to create it.
            access_config={"authentication_mode": "API",
                           "bootstrap_cluster_creator_admin_permissions": False},
            upgrade_policy={"support_type": args.support_type},
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
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[log_group, *grants],
                # The flag only matters at creation and changing it replaces the cluster:
                # clusters created before it was off keep theirs (docs/deploying.md, Access).
                ignore_changes=["accessConfig.bootstrapClusterCreatorAdminPermissions"]))

    def _create_oidc_provider(self) -> aws.iam.OpenIdConnectProvider:
        return aws.iam.OpenIdConnectProvider(
            f"{self._name}-oidc", url=self.oidc_issuer, client_id_lists=["sts.amazonaws.com"],
            opts=self._child)

    def _create_access_entries(self) -> list[pulumi.Resource]:
        access = self._args.access
        grants = [*((arn, CLUSTER_ADMIN_POLICY) for arn in access.deployer_role_arns),
                  *((arn, CLUSTER_ADMIN_POLICY) for arn in access.admin_role_arns),
                  *((arn, VIEW_POLICY) for arn in access.viewer_role_arns)]
        # Entries were once named by list position; the alias keeps those in place, because a
        # delete-and-create of an entry for the same principal fails (it already exists).
        former = {arn: f"{self._name}-admin-{index}"
                  for index, arn in enumerate(access.admin_role_arns)}
        created: list[pulumi.Resource] = []
        for role_arn, policy_arn in grants:
            logical = f"{self._name}-access-{access_entry_name(role_arn)}"
            aliases = [pulumi.Alias(name=former[role_arn])] if role_arn in former else []
            entry = aws.eks.AccessEntry(
                logical, cluster_name=self.cluster.name, principal_arn=role_arn, type="STANDARD",
                opts=pulumi.ResourceOptions(parent=self, aliases=aliases))
            created += [entry, aws.eks.AccessPolicyAssociation(
                logical, cluster_name=self.cluster.name, principal_arn=role_arn,
                policy_arn=policy_arn, access_scope={"type": "cluster"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[entry], aliases=aliases))]
        return created

    def _create_addon(self, addon: str, depends_on: list[pulumi.Resource]) -> aws.eks.Addon:
        configuration = None
        if addon == "vpc-cni":
            # Without this the NetworkPolicies of the workloads would be accepted but not enforced.
            configuration = json.dumps({"enableNetworkPolicy": "true"})
        # Pinned for this Kubernetes version: an unchanged `up` changes nothing, and raising
        # kubernetesVersion moves every add-on with it (preview shows each new version).
        return aws.eks.Addon(
            f"{self._name}-{addon}", cluster_name=self.cluster.name, addon_name=addon,
            addon_version=self._args.kubernetes.addons[addon], configuration_values=configuration,
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on))

    def _create_node_group(self, addons: list[aws.eks.Addon]) -> aws.eks.NodeGroup:
        nodes = self._args.system_nodes
        role, attachments = self._create_role("node", "ec2.amazonaws.com", NODE_ROLE_POLICIES)
        # IMDSv2 with a hop limit of 1 keeps pods off the node role: they use IRSA only.
        template = aws.ec2.LaunchTemplate(
            f"{self._name}-nodes",
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required",
                              "http_put_response_hop_limit": 1},
            block_device_mappings=[{"device_name": "/dev/xvda", "ebs": {
                "volume_size": 50, "volume_type": "gp3", "encrypted": "true",
                "delete_on_termination": "true"}}],
            update_default_version=True, opts=self._child)
        update_minutes = max(60, nodes.max_size * MINUTES_PER_NODE_REPLACEMENT)
        return aws.eks.NodeGroup(
            f"{self._name}-nodes",
            cluster_name=self.cluster.name,
            # The cluster's own version, so raising kubernetesVersion rolls the nodes after
            # the control plane instead of leaving them behind, onto the AMI release pinned
            # for it (without one EKS takes its newest at creation and at each update).
            version=self.cluster.version,
            release_version=self._args.kubernetes.node_ami_release,
            node_role_arn=role.arn,
            subnet_ids=self._args.private_subnet_ids,
            instance_types=list(nodes.instance_types),
            ami_type=AMI_TYPES[NODE_ARCHITECTURE],
            capacity_type="ON_DEMAND",
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            scaling_config={"min_size": nodes.min_size, "desired_size": nodes.desired_size,
                            "max_size": nodes.max_size},
            update_config={"max_unavailable": 1},
            labels={"order-platform/nodes": "system"},
            # Nodes join with the role's rights (and leave their ENIs behind without them),
            # and need their way out to bootstrap; on destroy both outlive them.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*addons, *attachments, *self._args.egress],
                ignore_changes=["scalingConfig.desiredSize"],
                custom_timeouts=pulumi.CustomTimeouts(update=f"{update_minutes}m")))

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
