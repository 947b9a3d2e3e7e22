"""The managed collector path: the ADOT EKS add-on and one collector, with least-privilege IRSA.

The ``adot`` add-on is the OpenTelemetry Operator that AWS builds and supports (it needs the
``cert-manager`` add-on for its webhook certificates). One ``OpenTelemetryCollector`` (config
in ``telemetry_pipeline``) scrapes the services' pods into CloudWatch through EMF log events and
sends their OTLP traces to X-Ray; its role may write only to its own log group and to X-Ray.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.capacity import COLLECTOR_SIZE
from infra.components import iam
from infra.components import telemetry_pipeline as pipeline
from infra.components.component import Component
from infra.components.pod_spec import RUN_AS_ID, container_security_context

ADDONS = ("cert-manager", "adot")
"""In this order: the operator's webhook needs cert-manager's certificates."""
OPERATOR_API_VERSION = "opentelemetry.io/v1beta1"
XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
"""X-Ray has no resource-level permissions for these: they are granted on ``*``."""
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")


@dataclass(frozen=True)
class CollectorArgs:
    """The cluster to run in, what to scrape, and where metrics and traces go."""

    prefix: str
    cluster_name: pulumi.Input[str]
    addon_versions: Mapping[str, str]
    """EKS add-on name -> version, pinned for the cluster's Kubernetes version."""
    region: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    workloads_namespace: str
    metrics_namespace: str
    """The CloudWatch namespace of the services' metrics."""
    trace_sample_percent: int
    log_retention_days: int
    log_kms_key_arn: pulumi.Input[str]
    cluster_ready: list[pulumi.Resource]
    """What the add-ons' pods need first: the system nodes and the core add-ons."""


def collector_statements(log_group_arn: pulumi.Input[str]) -> list[dict]:
    """What the collector may do: append to its own log group, and put traces."""
    streams = pulumi.Output.from_input(log_group_arn).apply(lambda arn: f"{arn}:*")
    return [iam.statement("WriteMetricEvents", LOG_ACTIONS, [log_group_arn, streams]),
            iam.statement("PutTraces", XRAY_ACTIONS, ["*"])]


class Collector(Component[CollectorArgs]):
    """cert-manager and ADOT add-ons, the collector's namespace, identity and configuration."""

    otlp_endpoint: pulumi.Output[str]
    """``http://adot-collector.observability.svc.cluster.local:4318``, from the collector."""
    namespace: pulumi.Output[str]
    service_account: str
    pod_labels: dict[str, str]
    """What selects the collector's pods (the operator's selector labels)."""
    log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: CollectorArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:collector:Collector", name, args, opts)
        self._name = f"{name}-collector"

        log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-metrics", name=f"/{args.prefix}/metrics",
            retention_in_days=args.log_retention_days, kms_key_id=args.log_kms_key_arn,
            opts=self._child)
        role = self._create_role(log_group)
        operator = self._create_addons()
        namespace = self._create_namespace()
        account = k8s.core.v1.ServiceAccount(
            f"{self._name}-sa",
            metadata={"name": pipeline.SERVICE_ACCOUNT, "namespace": namespace.metadata.name,
                      "annotations": {"eks.amazonaws.com/role-arn": role.arn}},
            automount_service_account_token=True, opts=self._child)
        self._admit_otlp_from_services(namespace)
        collector = self._create_collector(namespace, account, log_group, operator)

        self.namespace = namespace.metadata.name
        self.service_account = pipeline.SERVICE_ACCOUNT
        self.pod_labels = pipeline.collector_pod_labels()
        self.log_group_name = log_group.name
        name_of = collector.metadata.apply(
            lambda meta: meta["name"] if isinstance(meta, dict) else meta.name)
        self.otlp_endpoint = pulumi.Output.all(name_of, namespace.metadata.name).apply(
            lambda values: pipeline.otlp_endpoint(values[0], values[1]))
        self.register_outputs({"otlpEndpoint": self.otlp_endpoint,
                               "logGroupName": self.log_group_name})

    def _create_role(self, log_group: aws.cloudwatch.LogGroup) -> aws.iam.Role:
        args = self._args
        role = aws.iam.Role(
            f"{self._name}-role", name=f"{args.prefix}-collector",
            description=f"IRSA role of {pipeline.NAMESPACE}/{pipeline.SERVICE_ACCOUNT}",
            assume_role_policy=iam.irsa_trust_policy(args.oidc_provider_arn, args.oidc_issuer,
                                                     pipeline.NAMESPACE, pipeline.SERVICE_ACCOUNT),
            opts=self._child)
        aws.iam.RolePolicy(f"{self._name}-role", role=role.name,
                           policy=iam.policy_document(collector_statements(log_group.arn)),
                           opts=self._child)
        return role

    def _create_addons(self) -> aws.eks.Addon:
        args = self._args
        previous: list[pulumi.Resource] = list(args.cluster_ready)
        for addon in ADDONS:
            created = aws.eks.Addon(
                f"{self._name}-{addon}", cluster_name=args.cluster_name, addon_name=addon,
                addon_version=args.addon_versions[addon], resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                opts=pulumi.ResourceOptions(parent=self, depends_on=previous))
            previous = [created]
        return created

    def _create_namespace(self) -> k8s.core.v1.Namespace:
        labels = {f"pod-security.kubernetes.io/{mode}": "restricted"
                  for mode in ("enforce", "audit", "warn")}
        return k8s.core.v1.Namespace(
            f"{self._name}-namespace",
            metadata={"name": pipeline.NAMESPACE,
                      "labels": {"app.kubernetes.io/part-of": "order-platform", **labels}},
            opts=self._child)

    def _admit_otlp_from_services(self, namespace: k8s.core.v1.Namespace) -> None:
        # Nothing but the services sends to the collector; it reaches out freely (Kubernetes
        # API for discovery, the pods it scrapes, CloudWatch Logs and X-Ray through NAT).
        services = {"namespace_selector": {"match_labels": {
            "kubernetes.io/metadata.name": self._args.workloads_namespace}}}
        k8s.networking.v1.NetworkPolicy(
            f"{self._name}-otlp-ingress",
            metadata={"name": "otlp-from-services", "namespace": namespace.metadata.name},
            spec={"pod_selector": {}, "policy_types": ["Ingress"],
                  "ingress": [{"from": [services], "ports": [
                      {"port": pipeline.OTLP_HTTP_PORT, "protocol": "TCP"},
                      {"port": pipeline.OTLP_GRPC_PORT, "protocol": "TCP"}]}]},
            opts=self._child)

    def _create_collector(self, namespace: k8s.core.v1.Namespace,
                          account: k8s.core.v1.ServiceAccount,
                          log_group: aws.cloudwatch.LogGroup,
                          operator: aws.eks.Addon) -> k8s.apiextensions.CustomResource:
        args = self._args
        config = log_group.name.apply(lambda group: pipeline.collector_config(
            region=args.region, workloads_namespace=args.workloads_namespace,
            metrics_namespace=args.metrics_namespace, log_group=group,
            sample_percent=args.trace_sample_percent))
        return k8s.apiextensions.CustomResource(
            f"{self._name}-otel", api_version=OPERATOR_API_VERSION, kind="OpenTelemetryCollector",
            metadata={"name": pipeline.NAME, "namespace": namespace.metadata.name},
            spec={
                "mode": "deployment",
                # One replica: two would scrape every pod twice and double every count.
                "replicas": 1,
                "serviceAccount": account.metadata.name,
                "resources": COLLECTOR_SIZE.resources,
                "podSecurityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS_ID,
                                       "runAsGroup": RUN_AS_ID,
                                       "seccompProfile": {"type": "RuntimeDefault"}},
                "securityContext": {_camel(k): v for k, v in container_security_context().items()},
                "config": config,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[operator, account]))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
