"""The services on EKS: namespace, ServiceAccounts, ConfigMap, migration Job, Deployments."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

PART_OF = "order-platform"
RUN_AS_ID = 10001
CPU_TARGET_PERCENT = 70
DNS_PORT = 53
HTTPS_PORT = 443
CONFIG_MAP_NAME = "order-platform-config"


@dataclass(frozen=True)
class WorkloadSpec:
    """One Deployment: its image argument, port, probes and scale."""

    name: str
    """Deployment, ServiceAccount and container name, and the image entrypoint argument."""
    port: int
    """The API port, or the health port of a background process."""
    min_replicas: int
    max_replicas: int
    node_port: int | None = None
    """Set for the APIs: the fixed NodePort the NLB targets."""
    cpu_request: str = "250m"
    memory_request: str = "256Mi"
    cpu_limit: str = "1"
    memory_limit: str = "512Mi"

    @property
    def port_name(self) -> str:
        """``http`` for the APIs, ``health`` for background processes."""
        return "http" if self.node_port else "health"


@dataclass(frozen=True)
class WorkloadsArgs:
    """Everything the Kubernetes side needs, already resolved from other components."""

    namespace: str
    image: pulumi.Input[str]
    """``<ecr url>:<tag>``; never ``latest``."""
    release: str
    """The image tag: names the migration Job so each release migrates once."""
    config_data: dict[str, pulumi.Input[str]]
    role_arns: dict[str, pulumi.Input[str]]
    """IRSA role per ServiceAccount: every workload name plus ``migrate``."""
    workloads: tuple[WorkloadSpec, ...]
    vpc_cidr: str
    database_cidrs: tuple[str, ...]
    database_port: int
    migration_depends_on: list[pulumi.Resource] = field(default_factory=list)


def labels(name: str) -> dict[str, str]:
    """The selector labels of one workload."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}


def container_security_context() -> dict:
    """Non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp."""
    return {
        "run_as_non_root": True,
        "run_as_user": RUN_AS_ID,
        "run_as_group": RUN_AS_ID,
        "read_only_root_filesystem": True,
        "allow_privilege_escalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


class Workloads(pulumi.ComponentResource):
    """The order-platform services in one Pod-Security-restricted namespace."""

    namespace_name: pulumi.Output[str]

    def __init__(self, name: str, args: WorkloadsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:workloads:Workloads", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)

        namespace = self._create_namespace()
        self.namespace_name = namespace.metadata.name
        self._service_accounts = {account: self._create_service_account(account, role_arn)
                                  for account, role_arn in args.role_arns.items()}
        self._config_map = k8s.core.v1.ConfigMap(
            f"{name}-config", metadata=self._meta(CONFIG_MAP_NAME),
            data=args.config_data, immutable=False, opts=self._child)
        self._create_network_policies()
        migration = self._create_migration_job()
        for spec in args.workloads:
            self._create_workload(spec, migration)
        self.register_outputs({"namespace": self.namespace_name})

    def _meta(self, name: str, extra_labels: dict[str, str] | None = None) -> dict:
        return {"name": name, "namespace": self.namespace_name,
                "labels": {"app.kubernetes.io/part-of": PART_OF, **(extra_labels or {})}}

    def _create_namespace(self) -> k8s.core.v1.Namespace:
        pss = {f"pod-security.kubernetes.io/{mode}": "restricted"
               for mode in ("enforce", "audit", "warn")}
        pss["pod-security.kubernetes.io/enforce-version"] = "latest"
        return k8s.core.v1.Namespace(
            f"{self._name}-namespace",
            metadata={"name": self._args.namespace,
                      "labels": {"app.kubernetes.io/part-of": PART_OF, **pss}},
            opts=self._child)

    def _create_service_account(self, account: str, role_arn: pulumi.Input[str]):
        return k8s.core.v1.ServiceAccount(
            f"{self._name}-{account}-sa",
            metadata={**self._meta(account, labels(account)),
                      "annotations": {"eks.amazonaws.com/role-arn": role_arn}},
            automount_service_account_token=False, opts=self._child)

    def _pod_spec(self, account: str, container: dict) -> dict:
        return {
            "service_account_name": self._service_accounts[account].metadata.name,
            "automount_service_account_token": False,
            "enable_service_links": False,
            "security_context": {"run_as_non_root": True, "run_as_user": RUN_AS_ID,
                                 "run_as_group": RUN_AS_ID, "fs_group": RUN_AS_ID,
                                 "seccomp_profile": {"type": "RuntimeDefault"}},
            "containers": [{
                "image": self._args.image,
                "image_pull_policy": "IfNotPresent",
                "env_from": [{"config_map_ref": {"name": self._config_map.metadata.name}}],
                "security_context": container_security_context(),
                # The only writable path: gunicorn's heartbeat files and Python temp files.
                "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],  # noqa: S108
                **container,
            }],
            "volumes": [{"name": "tmp", "empty_dir": {"size_limit": "64Mi"}}],
        }

    def _create_migration_job(self) -> k8s.batch.v1.Job:
        release = hashlib.sha256(self._args.release.encode()).hexdigest()[:10]
        return k8s.batch.v1.Job(
            f"{self._name}-migrate",
            # A name per release: each image migrates once, and Jobs are immutable anyway.
            metadata=self._meta(f"db-migrate-{release}", labels("migrate")),
            spec={
                "backoff_limit": 2,
                "active_deadline_seconds": 900,
                "template": {
                    "metadata": {"labels": labels("migrate")},
                    "spec": {**self._pod_spec("migrate", {
                        "name": "migrate", "args": ["migrate"],
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                      "limits": {"cpu": "500m", "memory": "256Mi"}},
                    }), "restart_policy": "Never"},
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self._config_map, *self._args.migration_depends_on]))

    def _create_workload(self, spec: WorkloadSpec, migration: k8s.batch.v1.Job) -> None:
        selector = labels(spec.name)
        probe_port = spec.port_name
        container = {
            "name": spec.name,
            "args": [spec.name],
            "ports": [{"name": spec.port_name, "container_port": spec.port, "protocol": "TCP"}],
            "liveness_probe": {"http_get": {"path": "/healthz", "port": probe_port},
                               "period_seconds": 10, "timeout_seconds": 2,
                               "failure_threshold": 3},
            "readiness_probe": {"http_get": {"path": "/readyz", "port": probe_port},
                                "period_seconds": 5, "timeout_seconds": 2,
                                "failure_threshold": 2},
            "startup_probe": {"http_get": {"path": "/healthz", "port": probe_port},
                              "period_seconds": 2, "failure_threshold": 30},
            "resources": {"requests": {"cpu": spec.cpu_request, "memory": spec.memory_request},
                          "limits": {"cpu": spec.cpu_limit, "memory": spec.memory_limit}},
        }
        spread = [
            {"max_skew": 1, "topology_key": key, "when_unsatisfiable": "ScheduleAnyway",
             "label_selector": {"match_labels": selector}}
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ]
        # No `replicas`: the HPA owns it (starting at min_replicas); setting it here would
        # reset the HPA's choice on every `pulumi up`.
        deployment = k8s.apps.v1.Deployment(
            f"{self._name}-{spec.name}",
            metadata=self._meta(spec.name, selector),
            spec={
                "selector": {"match_labels": selector},
                "strategy": {"type": "RollingUpdate",
                             "rolling_update": {"max_unavailable": 0, "max_surge": 1}},
                "template": {
                    "metadata": {"labels": selector},
                    "spec": {**self._pod_spec(spec.name, container),
                             "termination_grace_period_seconds": 30,
                             "topology_spread_constraints": spread},
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[migration]))
        if spec.node_port:
            k8s.core.v1.Service(
                f"{self._name}-{spec.name}-svc", metadata=self._meta(spec.name, selector),
                spec={"type": "NodePort", "selector": selector,
                      "external_traffic_policy": "Cluster",
                      "ports": [{"name": spec.port_name, "port": spec.port,
                                 "target_port": spec.port_name, "node_port": spec.node_port,
                                 "protocol": "TCP"}]},
                opts=self._child)
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{self._name}-{spec.name}-hpa", metadata=self._meta(spec.name, selector),
            spec={"scale_target_ref": {"api_version": "apps/v1", "kind": "Deployment",
                                       "name": deployment.metadata.name},
                  "min_replicas": spec.min_replicas, "max_replicas": spec.max_replicas,
                  "metrics": [{"type": "Resource", "resource": {
                      "name": "cpu", "target": {"type": "Utilization",
                                                "average_utilization": CPU_TARGET_PERCENT}}}]},
            opts=self._child)
        k8s.policy.v1.PodDisruptionBudget(
            f"{self._name}-{spec.name}-pdb", metadata=self._meta(spec.name, selector),
            spec={"max_unavailable": 1, "selector": {"match_labels": selector}},
            opts=self._child)
        self._allow_ingress(spec)

    def _allow_ingress(self, spec: WorkloadSpec) -> None:
        if spec.node_port:
            # Clients arrive through the NLB, whose security group already limits them to the
            # configured CIDRs; client IPs are preserved, so any source may reach this port.
            sources: list[dict] = []
        else:
            sources = [{"ip_block": {"cidr": self._args.vpc_cidr}}]  # kubelet probes only
        k8s.networking.v1.NetworkPolicy(
            f"{self._name}-{spec.name}-ingress",
            metadata=self._meta(f"{spec.name}-ingress"),
            spec={"pod_selector": {"match_labels": labels(spec.name)},
                  "policy_types": ["Ingress"],
                  "ingress": [{**({"from": sources} if sources else {}),
                               "ports": [{"port": spec.port, "protocol": "TCP"}]}]},
            opts=self._child)

    def _create_network_policies(self) -> None:
        args = self._args
        everyone = {}
        policies = {
            "default-deny": {"pod_selector": everyone, "policy_types": ["Ingress", "Egress"]},
            "allow-dns": {"pod_selector": everyone, "policy_types": ["Egress"], "egress": [{
                "to": [{"namespace_selector": {"match_labels": {
                            "kubernetes.io/metadata.name": "kube-system"}},
                        "pod_selector": {"match_labels": {"k8s-app": "kube-dns"}}}],
                "ports": [{"port": DNS_PORT, "protocol": "UDP"},
                          {"port": DNS_PORT, "protocol": "TCP"}]}]},
            # AWS APIs are reached through the VPC's interface endpoints only.
            "allow-aws-endpoints": {"pod_selector": everyone, "policy_types": ["Egress"],
                                    "egress": [{"to": [{"ip_block": {"cidr": args.vpc_cidr}}],
                                                "ports": [{"port": HTTPS_PORT,
                                                           "protocol": "TCP"}]}]},
            "allow-database": {"pod_selector": everyone, "policy_types": ["Egress"],
                               "egress": [{"to": [{"ip_block": {"cidr": cidr}}
                                                  for cidr in args.database_cidrs],
                                           "ports": [{"port": args.database_port,
                                                      "protocol": "TCP"}]}]},
        }
        for policy_name, spec in policies.items():
            k8s.networking.v1.NetworkPolicy(f"{self._name}-{policy_name}",
                                            metadata=self._meta(policy_name), spec=spec,
                                            opts=self._child)
