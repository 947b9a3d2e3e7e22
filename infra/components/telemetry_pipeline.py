"""How the services' metrics and traces reach CloudWatch and X-Ray: pure data, no resources.

The pods carry the usual ``prometheus.io/*`` annotations (port and path from the process
catalogue and ``telemetry.METRICS_PATH``). The ADOT collector scrapes the annotated pods of the
services' namespace, keeps the metrics the dashboard and alarms read (names from the metric
catalogue, ``order_platform.telemetry``), and writes them to CloudWatch as EMF log events;
OTLP traces go to X-Ray. ``Collector`` deploys this config; ``Monitoring`` reads the same
names and dimensions, so a renamed metric cannot leave a widget or an alarm watching nothing.

CloudWatch computes no percentile from a Prometheus histogram (the EMF exporter sends its count
and sum only), so a second scrape job renames each ``<latency histogram>_bucket`` series into the
requests counter: ``order_platform_http_requests_total{le="0.5"}`` counts the requests answered
within 0.5 s, is a counter like its family (so the exporter sends per-minute deltas), and
becomes the CloudWatch metric ``order_platform_http_requests_total`` with dimensions
``service`` and ``le``. Percentiles follow from those counts (``Monitoring``).
"""

from __future__ import annotations

import math

from order_platform import telemetry
from order_platform.processes import Kind, Process

NAMESPACE = "observability"
"""The collector's Kubernetes namespace."""
NAME = "adot"
"""The OpenTelemetryCollector; the operator names its Deployment and Service ``adot-collector``."""
SERVICE_SUFFIX = "-collector"
SERVICE_ACCOUNT = "adot-collector"
OTLP_HTTP_PORT = 4318
OTLP_GRPC_PORT = 4317
SCRAPE_INTERVAL_SECONDS = 60
"""One sample a minute: the period of every widget and alarm."""

SERVICE = "service"
"""Dimension: the process role (``app.kubernetes.io/name`` of the pod)."""
STATUS_CLASS = "status_class"
"""Dimension: ``2xx`` ... ``5xx``, from the ``status`` label of the requests counter."""
LE = "le"
"""Dimension: the latency bound of the requests counted (``requests answered within le s``)."""
STATUS = "status"

REQUESTS = telemetry.HTTP_REQUESTS
LATENCY = telemetry.HTTP_DURATION
OUTBOX_GAUGES = (telemetry.OUTBOX_BACKLOG, telemetry.OUTBOX_OLDEST_AGE)
SETTLE = telemetry.ORDER_SETTLE
POOL_BOUND = telemetry.DB_POOL_SIZE
HEARTBEATS = {Kind.API: REQUESTS, Kind.DAEMON: POOL_BOUND}
"""What each process kind sends every minute, busy or idle: an API its answered requests (the
kubelet's probes are requests too, so a running API always has some, and these are the series
its alarms read), a daemon its pools' bound (set as it starts, exported on every scrape)."""
EXPORTED = (REQUESTS, *OUTBOX_GAUGES, SETTLE, POOL_BOUND)
"""Every metric the collector sends to CloudWatch; the others stay on the pods' /metrics."""


def scrape_annotations(process: Process) -> dict[str, str]:
    """The pod annotations the usual Prometheus collectors (and ours) scrape by."""
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(process.probe_port),
            "prometheus.io/path": telemetry.METRICS_PATH, "prometheus.io/scheme": "http"}


def heartbeat(process: Process) -> telemetry.Metric:
    """The metric whose absence says ``process`` is not being scraped into CloudWatch."""
    return HEARTBEATS[process.kind]


def le_label(bound: float) -> str:
    """A bucket bound as the Prometheus client writes it in ``le`` (``0.5``, ``1.0``, ``+Inf``)."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def latency_bounds() -> tuple[str, ...]:
    """The ``le`` values of the latency histogram, ``+Inf`` (every request) last."""
    return (*(le_label(b) for b in LATENCY.buckets), le_label(math.inf))


def collector_pod_labels(name: str = NAME, namespace: str = NAMESPACE) -> dict[str, str]:
    """The selector labels the OpenTelemetry operator gives the collector's pods (immutable, as
    a Deployment's selector is)."""
    return {"app.kubernetes.io/component": "opentelemetry-collector",
            "app.kubernetes.io/instance": f"{namespace}.{name}"}


def otlp_endpoint(name: str, namespace: str) -> str:
    """``OTEL_EXPORTER_OTLP_ENDPOINT``: the collector Service the operator makes for ``name``."""
    return f"http://{name}{SERVICE_SUFFIX}.{namespace}.svc.cluster.local:{OTLP_HTTP_PORT}"


def metric_declarations() -> list[dict]:
    """Which metrics become CloudWatch metrics, with which dimension sets."""
    def present(label: str) -> list[dict]:
        return [{"label_names": [label], "regex": ".+"}]
    return [
        {"metric_name_selectors": [f"^{REQUESTS.name}$"], "label_matchers": present(STATUS),
         "dimensions": [[SERVICE], [SERVICE, STATUS_CLASS]]},
        {"metric_name_selectors": [f"^{REQUESTS.name}$"], "label_matchers": present(LE),
         "dimensions": [[SERVICE, LE]]},
        {"metric_name_selectors": [f"^{m.name}$" for m in OUTBOX_GAUGES],
         "dimensions": [[SERVICE]]},
        {"metric_name_selectors": [f"^{SETTLE.name}$"], "dimensions": [[STATUS]]},
        {"metric_name_selectors": [f"^{POOL_BOUND.name}$"], "dimensions": [[SERVICE]]},
    ]


def _pod_relabeling() -> list[dict]:
    """Keep annotated pods; scrape the annotated port and path; name the process."""
    return [
        {"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
         "action": "keep", "regex": "true"},
        {"source_labels": ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"],
         "action": "replace", "regex": r"([^:]+)(?::\d+)?;(\d+)", "replacement": "$$1:$$2",
         "target_label": "__address__"},
        {"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_path"],
         "action": "replace", "regex": "(.+)", "target_label": "__metrics_path__"},
        {"source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
         "action": "replace", "target_label": SERVICE},
        {"source_labels": ["__meta_kubernetes_pod_name"], "action": "replace",
         "target_label": "pod"},
    ]


def scrape_configs(workloads_namespace: str) -> list[dict]:
    """Two jobs over the same pods: the metrics as they are, and the latency buckets as counts."""
    discovery = [{"role": "pod", "namespaces": {"names": [workloads_namespace]}}]
    common = {"scrape_interval": f"{SCRAPE_INTERVAL_SECONDS}s",
              "kubernetes_sd_configs": discovery, "relabel_configs": _pod_relabeling()}
    return [
        {"job_name": "order-platform", **common, "metric_relabel_configs": [
            # "$$" is a literal "$" in collector config (a single "$" would be an env variable).
            {"source_labels": [STATUS], "regex": r"(\d)\d\d", "target_label": STATUS_CLASS,
             "replacement": "$${1}xx", "action": "replace"}]},
        {"job_name": "order-platform-latency", **common, "metric_relabel_configs": [
            {"source_labels": ["__name__"], "regex": f"{LATENCY.name}_bucket",
             "action": "keep"},
            {"target_label": "__name__", "replacement": REQUESTS.name, "action": "replace"}]},
    ]


def collector_config(*, region: str, workloads_namespace: str, metrics_namespace: str,
                     log_group: str, sample_percent: int) -> dict:
    """The whole collector configuration (the OpenTelemetryCollector's ``spec.config``)."""
    return {
        "receivers": {
            "otlp": {"protocols": {"http": {"endpoint": f"0.0.0.0:{OTLP_HTTP_PORT}"},
                                   "grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC_PORT}"}}},
            "prometheus": {"config": {"scrape_configs": scrape_configs(workloads_namespace)}},
        },
        "processors": {
            "memory_limiter": {"check_interval": "1s", "limit_percentage": 80,
                               "spike_limit_percentage": 20},
            "filter/exported": {"metrics": {"include": {
                "match_type": "strict", "metric_names": [m.name for m in EXPORTED]}}},
            # Histograms from a scrape are cumulative; the EMF exporter sends them as they are.
            "cumulativetodelta/histograms": {"include": {
                "match_type": "strict", "metrics": [SETTLE.name]}},
            # By trace id, so every span of a kept trace is kept, whichever service sent it.
            "probabilistic_sampler": {"sampling_percentage": sample_percent},
            "batch": {"timeout": "10s"},
        },
        "exporters": {
            "awsemf": {"region": region, "namespace": metrics_namespace,
                       "log_group_name": log_group, "log_stream_name": "services",
                       "dimension_rollup_option": "NoDimensionRollup",
                       "metric_declarations": metric_declarations()},
            "awsxray": {"region": region},
        },
        "service": {"pipelines": {
            "metrics": {"receivers": ["prometheus"],
                        "processors": ["memory_limiter", "filter/exported",
                                       "cumulativetodelta/histograms", "batch"],
                        "exporters": ["awsemf"]},
            "traces": {"receivers": ["otlp"],
                       "processors": ["memory_limiter", "probabilistic_sampler", "batch"],
                       "exporters": ["awsxray"]},
        }},
    }
