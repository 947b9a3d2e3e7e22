"""The services on EKS: namespace, ServiceAccounts, ConfigMap, migration Job, Deployments.

Every process-specific value (role, ports, probe paths, drain and grace periods) comes from the
process catalogue (``order_platform.processes``); sizes from ``infra/capacity.py``. The pod
template is ``pod_spec``'s, the NetworkPolicies ``workload_network``'s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from infra.capacity import HPA_CPU_TARGET_PERCENT, SURGE_PERCENT, PodSize
from infra.components import workload_network
from infra.components.component import Component
from infra.components.pod_spec import (
    PART_OF,
    WorkloadSpec,
    await_timeout,
    config_checksum,
    labels,
    pod_template,
    serving_container,
)
from infra.components.telemetry_pipeline import scrape_annotations
from order_platform.processes import Process

CONFIG_MAP_NAME = "order-platform-config"
REPLACE_UNREADY = "pulumi.com/replaceUnready"
MIGRATION_DEADLINE_SECONDS = 900
"""The Job's activeDeadlineSeconds: pending, pulling and running all count."""


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


class Workloads(Component[WorkloadsArgs]):
    """The order-platform services in one Pod-Security-restricted namespace."""

    namespace_name: pulumi.Output[str]

    def __init__(self, name: str, args: WorkloadsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:workloads:Workloads", name, args, opts)

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
        self._egress = workload_network.egress_policies(self._name, args, self._meta,
                                                        self._child)
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
        return pod_template(
            process, image=self._args.image, container=container, checksum=self._checksum,
            service_account=self._service_accounts[process.role].metadata.name,
            config_map=self._config_map.metadata.name)

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
        template = self._template(spec.process, serving_container(spec))
        template["metadata"]["annotations"].update(scrape_annotations(spec.process))
        template["spec"]["topology_spread_constraints"] = [
            {"max_skew": 1, "topology_key": key, "when_unsatisfiable": "ScheduleAnyway",
             "label_selector": {"match_labels": selector}}
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ]
        ingress = workload_network.allow_ingress(
            f"{self._name}-{spec.name}", spec, self._args.collector,
            self._meta(f"{spec.name}-ingress"), self._child)
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
                                                "average_utilization": HPA_CPU_TARGET_PERCENT}}}]},
            opts=self._child)
        k8s.policy.v1.PodDisruptionBudget(
            f"{self._name}-{spec.name}-pdb", metadata=self._meta(spec.name, selector),
            spec={"max_unavailable": 1, "selector": {"match_labels": selector}},
            opts=self._child)

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

