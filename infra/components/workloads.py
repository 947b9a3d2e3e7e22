"""The services on EKS: namespace, ServiceAccounts, ConfigMap, migration Job, Deployments.

Every process-specific value (role, ports, probe paths, grace periods) comes from the
process catalogue (``order_platform.processes``); sizes from ``infra/capacity.py``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

import pulumi
import pulumi_kubernetes as k8s

from infra.capacity import SURGE_PERCENT, PodSize, surge
from infra.components.telemetry_pipeline import scrape_annotations
from order_platform.processes import Kind, Process

PART_OF = "order-platform"
RUN_AS_ID = 10001
CPU_TARGET_PERCENT = 70
DNS_PORT = 53
HTTPS_PORT = 443
CONFIG_MAP_NAME = "order-platform-config"
CONFIG_CHECKSUM = "checksum/config"
"""Pod-template annotation: the SHA-256 of the ConfigMap data, so pods restart when it changes."""
REPLACE_UNREADY = "pulumi.com/replaceUnready"

MIGRATION_DEADLINE_SECONDS = 900
"""The Job's activeDeadlineSeconds: pending, pulling and running all count."""
AWAIT_MARGIN_SECONDS = 300
"""What Pulumi waits beyond a deadline, so Kubernetes reports the failure, not a Pulumi timeout."""
STARTUP_PERIOD_SECONDS = 2
STARTUP_FAILURES = 30
READINESS_PERIOD_SECONDS = 5
READINESS_FAILURES = 2
NODE_READY_SECONDS = 180
"""Karpenter launching a node and the kubelet pulling the image, per rollout batch."""


@dataclass(frozen=True)
class WorkloadSpec:
    """One Deployment: a deployed process of the catalogue, its scale and size."""

    process: Process
    min_replicas: int
    max_replicas: int
    size: PodSize
    node_port: int | None = None
    """Set for the APIs: the fixed NodePort the NLB targets."""

    @property
    def name(self) -> str:
        """Deployment, ServiceAccount and container name, and the image's argument."""
        return self.process.role

    @property
    def port(self) -> int:
        """The API port, or the health port of a background process: where probes answer."""
        return cast(int, self.process.probe_port)  # every deployed process has one

    @property
    def port_name(self) -> str:
        """``http`` for the APIs, ``health`` for background processes."""
        return "http" if self.process.kind is Kind.API else "health"

    def rollout_seconds(self) -> int:
        """The longest a rollout at ``max_replicas`` may take: every surge batch needs a node,
        the image, a started container and consecutive ready probes."""
        batches = math.ceil(self.max_replicas / surge(self.max_replicas))
        per_batch = (NODE_READY_SECONDS + STARTUP_PERIOD_SECONDS * STARTUP_FAILURES
                     + READINESS_PERIOD_SECONDS * READINESS_FAILURES)
        return batches * per_batch


@dataclass(frozen=True)
class CacheEgress:
    """Which processes reach the product cache, and where it listens."""

    roles: tuple[str, ...]
    cidrs: tuple[str, ...]
    """The subnets the cache's nodes are in (the private ones)."""
    port: int


@dataclass(frozen=True)
class CollectorAccess:
    """The collector: where the pods send OTLP, and who scrapes them."""

    namespace: pulumi.Input[str]
    service_account: str
    otlp_ports: tuple[int, ...]
    pod_labels: dict[str, str] = field(default_factory=dict)
    """Labels that select the collector's pods: each process admits them to its metrics port."""


@dataclass(frozen=True)
class WorkloadsArgs:
    """Everything the Kubernetes side needs, already resolved from other components."""

    namespace: str
    image: pulumi.Input[str]
    """``<ecr url>:<tag>@sha256:<digest>``; never ``latest``."""
    release: str
    """The image tag: names the migration Job so each release migrates once."""
    config_data: Mapping[str, pulumi.Input[str]]
    role_arns: Mapping[str, pulumi.Input[str]]
    """IRSA role per ServiceAccount: every workload name plus the migration's."""
    workloads: tuple[WorkloadSpec, ...]
    migration: Process
    migration_size: PodSize
    vpc_cidr: str
    database_cidrs: tuple[str, ...]
    database_port: int
    migration_depends_on: list[pulumi.Resource] = field(default_factory=list)
    """The database, IAM, queues and node capacity the migration (and so every rollout) needs."""
    cache: CacheEgress | None = None
    """None when the stack has no cache: no pod may reach one."""
    collector: CollectorAccess | None = None
    """None when the stack has no collector: no OTLP egress, nobody may list the pods."""


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


def config_checksum(data: dict[str, str]) -> str:
    """The SHA-256 of ConfigMap data, independent of key order."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def await_timeout(seconds: int) -> str:
    """A Pulumi duration that covers ``seconds`` plus the margin, never under the 10m default."""
    return f"{max(10, math.ceil((seconds + AWAIT_MARGIN_SECONDS) / 60))}m"


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
        # envFrom is read once, at container start: a changed value reaches running pods only
        # through a changed pod template. The checksum is of the applied data, so a pod never
        # restarts before its ConfigMap holds the new values, nor when nothing changed.
        self._checksum = self._config_map.data.apply(config_checksum)
        # Default-deny comes with the allow rules: a pod started between the two would find
        # no DNS, database or AWS endpoints, and the migration would fail its first attempts.
        self._egress = self._create_network_policies()
        if args.collector is not None:
            self._let_collector_discover_pods(args.collector)
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

    def _template(self, process: Process, container: dict) -> dict:
        """The pod template of a process: its labels, config checksum and locked-down pod."""
        return {
            "metadata": {"labels": labels(process.role),
                         "annotations": {CONFIG_CHECKSUM: self._checksum}},
            "spec": {
                "service_account_name": self._service_accounts[process.role].metadata.name,
                "automount_service_account_token": False,
                "enable_service_links": False,
                # SIGTERM, then the process's own shutdown grace, then a margin before SIGKILL.
                "termination_grace_period_seconds": process.termination_grace_seconds,
                "security_context": {"run_as_non_root": True, "run_as_user": RUN_AS_ID,
                                     "run_as_group": RUN_AS_ID, "fs_group": RUN_AS_ID,
                                     "seccomp_profile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": process.role,
                    "image": self._args.image,
                    "image_pull_policy": "IfNotPresent",
                    "args": [process.role],
                    "env_from": [{"config_map_ref": {"name": self._config_map.metadata.name}}],
                    "security_context": container_security_context(),
                    # The only writable path: gunicorn's heartbeat files and Python temp files.
                    "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],  # noqa: S108
                    **container,
                }],
                "volumes": [{"name": "tmp", "empty_dir": {"size_limit": "64Mi"}}],
            },
        }

    def _create_migration_job(self) -> k8s.batch.v1.Job:
        args = self._args
        release = hashlib.sha256(args.release.encode()).hexdigest()[:10]
        template = self._template(args.migration, {"resources": args.migration_size.resources})
        template["spec"]["restart_policy"] = "Never"
        timeout = await_timeout(MIGRATION_DEADLINE_SECONDS)
        return k8s.batch.v1.Job(
            f"{self._name}-migrate",
            # A name per release: each image migrates once, and Jobs are immutable anyway.
            # A Job that failed stays failed; without replaceUnready every later `up` of the
            # same release would wait on it and fail again. With it, the next `up` deletes
            # the failed Job (same name, so delete first) and runs the migration anew.
            metadata={**self._meta(f"db-migrate-{release}", labels(args.migration.role)),
                      "annotations": {REPLACE_UNREADY: "true"}},
            spec={"backoff_limit": 2, "active_deadline_seconds": MIGRATION_DEADLINE_SECONDS,
                  "template": template},
            opts=pulumi.ResourceOptions(
                parent=self, delete_before_replace=True,
                depends_on=[self._config_map, *self._egress, *args.migration_depends_on],
                # Pulumi's default wait for a Job is 10 minutes, shorter than its deadline.
                custom_timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout)))

    def _create_workload(self, spec: WorkloadSpec, migration: k8s.batch.v1.Job) -> None:
        selector = labels(spec.name)
        probes = spec.process.probes
        probe_port = spec.port_name
        container = {
            "ports": [{"name": spec.port_name, "container_port": spec.port, "protocol": "TCP"}],
            "liveness_probe": {"http_get": {"path": probes.liveness, "port": probe_port},
                               "period_seconds": 10, "timeout_seconds": 2,
                               "failure_threshold": 3},
            "readiness_probe": {"http_get": {"path": probes.readiness, "port": probe_port},
                                "period_seconds": READINESS_PERIOD_SECONDS, "timeout_seconds": 2,
                                "failure_threshold": READINESS_FAILURES},
            "startup_probe": {"http_get": {"path": probes.liveness, "port": probe_port},
                              "period_seconds": STARTUP_PERIOD_SECONDS,
                              "failure_threshold": STARTUP_FAILURES},
            "resources": spec.size.resources,
        }
        template = self._template(spec.process, container)
        template["metadata"]["annotations"].update(scrape_annotations(spec.process))
        template["spec"]["topology_spread_constraints"] = [
            {"max_skew": 1, "topology_key": key, "when_unsatisfiable": "ScheduleAnyway",
             "label_selector": {"match_labels": selector}}
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ]
        ingress = self._allow_ingress(spec)
        timeout = await_timeout(spec.rollout_seconds())
        # No `replicas`: the HPA owns it (starting at min_replicas); setting it here would
        # reset the HPA's choice on every `pulumi up`.
        deployment = k8s.apps.v1.Deployment(
            f"{self._name}-{spec.name}",
            metadata=self._meta(spec.name, selector),
            spec={
                "selector": {"match_labels": selector},
                "strategy": {"type": "RollingUpdate",
                             "rolling_update": {"max_unavailable": 0,
                                                "max_surge": f"{SURGE_PERCENT}%"}},
                "template": template,
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[migration, ingress],
                # Pulumi waits 10 minutes for a rollout by default; at the HPA maximum a
                # release rolls in several surge batches, each maybe on a new node.
                custom_timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout)))
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

    def _allow_ingress(self, spec: WorkloadSpec) -> k8s.networking.v1.NetworkPolicy:
        port = [{"port": spec.port, "protocol": "TCP"}]
        # Clients arrive through the NLB, whose security group already limits them to the
        # configured CIDRs; client IPs are preserved, so any source may reach an API's port.
        rules = [{"ports": port}] if spec.node_port else []
        collector = self._args.collector
        if collector is not None:
            # Scraped by intent: the collector's pods, on the port /metrics answers on, whatever
            # the other rules admit. (A daemon's probes need no rule: the kubelet connects from
            # the node's own address, which the VPC CNI's policy agent always admits.)
            rules.append({"from": [{
                "namespace_selector": {"match_labels": {
                    "kubernetes.io/metadata.name": collector.namespace}},
                "pod_selector": {"match_labels": collector.pod_labels}}], "ports": port})
        return k8s.networking.v1.NetworkPolicy(
            f"{self._name}-{spec.name}-ingress",
            metadata=self._meta(f"{spec.name}-ingress"),
            spec={"pod_selector": {"match_labels": labels(spec.name)},
                  "policy_types": ["Ingress"], "ingress": rules},
            opts=self._child)

    def _create_network_policies(self) -> list[k8s.networking.v1.NetworkPolicy]:
        args = self._args
        everyone: dict[str, object] = {}
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
        if args.cache is not None:
            # Only the processes that read the cache reach it, and only on its port.
            policies["allow-cache"] = {
                "pod_selector": {"match_expressions": [{
                    "key": "app.kubernetes.io/name", "operator": "In",
                    "values": list(args.cache.roles)}]},
                "policy_types": ["Egress"],
                "egress": [{"to": [{"ip_block": {"cidr": cidr}} for cidr in args.cache.cidrs],
                            "ports": [{"port": args.cache.port, "protocol": "TCP"}]}]}
        if args.collector is not None:
            policies["allow-telemetry"] = {
                "pod_selector": everyone, "policy_types": ["Egress"],
                "egress": [{"to": [{"namespace_selector": {"match_labels": {
                                "kubernetes.io/metadata.name": args.collector.namespace}}}],
                            "ports": [{"port": port, "protocol": "TCP"}
                                      for port in args.collector.otlp_ports]}]}
        return [k8s.networking.v1.NetworkPolicy(f"{self._name}-{policy_name}",
                                                metadata=self._meta(policy_name), spec=spec,
                                                opts=self._child)
                for policy_name, spec in policies.items()]

    def _let_collector_discover_pods(self, collector: CollectorAccess) -> None:
        """The collector finds the pods to scrape through the API: read-only, this namespace."""
        role = k8s.rbac.v1.Role(
            f"{self._name}-pod-discovery", metadata=self._meta("pod-discovery"),
            rules=[{"api_groups": [""], "resources": ["pods"],
                    "verbs": ["get", "list", "watch"]}],
            opts=self._child)
        k8s.rbac.v1.RoleBinding(
            f"{self._name}-pod-discovery", metadata=self._meta("pod-discovery"),
            role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role",
                      "name": role.metadata.name},
            subjects=[{"kind": "ServiceAccount", "name": collector.service_account,
                       "namespace": collector.namespace}],
            opts=self._child)

