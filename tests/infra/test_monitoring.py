"""Observability: scrape annotations, the collector switch, the dashboard and the API alarms."""

from __future__ import annotations

import json
import math
import re

import pytest

from infra import outputs
from infra.capacity import COLLECTOR_SIZE
from infra.components import alerting, dashboard, monitoring
from infra.components import telemetry_pipeline as pipeline
from infra.simulation import run_stack
from order_platform import telemetry
from order_platform.processes import DEPLOYED, Kind
from order_platform.topology import ROUTES
from tests.infra.helpers import (
    as_list,
    config_value,
    deployments,
    document,
    k8s_named,
    k8s_objects,
    one,
    prefix,
)

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
COLLECTOR = "kubernetes:opentelemetry.io/v1beta1:OpenTelemetryCollector"
ADDON = "aws:eks/addon:Addon"
APIS = tuple(p.role for p in DEPLOYED if p.kind is Kind.API)


def body(run) -> dict:
    return json.loads(one(run, DASHBOARD).inputs["dashboardBody"])


def rows(run) -> list[list]:
    return [row for widget in body(run)["widgets"]
            for row in widget.get("properties", {}).get("metrics", [])]


def sqs_rows(run, metric: str) -> set[str]:
    return {row[3] for row in rows(run)
            if row[:3] == [alerting.SQS_NAMESPACE, metric, "QueueName"]}


def has_collector(run) -> bool:
    return bool(config_value(run, "collectorEnabled"))


def config_map(run) -> dict:
    return k8s_named(run, "ConfigMap", "order-platform-config").inputs["data"]


# --- the pods ---------------------------------------------------------------------------------

def test_every_deployment_is_annotated_for_scraping_from_the_catalogue(run):
    for process in DEPLOYED:
        deployment = deployments(run)[process.role].inputs["spec"]["template"]
        annotations = deployment["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(process.probe_port)
        assert annotations["prometheus.io/path"] == telemetry.METRICS_PATH
        ports = [p["containerPort"] for p in deployment["spec"]["containers"][0]["ports"]]
        assert process.probe_port in ports, process.role


def test_the_migration_job_is_not_scraped(run):
    job = one(run, "kubernetes:batch/v1:Job").inputs["spec"]["template"]["metadata"]
    assert not any(key.startswith("prometheus.io/") for key in job["annotations"])


def test_the_scrape_jobs_read_exactly_those_annotations():
    for job in pipeline.scrape_configs("order-platform"):
        relabel = {tuple(r.get("source_labels", [])): r for r in job["relabel_configs"]}
        keep = relabel[("__meta_kubernetes_pod_annotation_prometheus_io_scrape",)]
        assert (keep["action"], keep["regex"]) == ("keep", "true")
        port = relabel[("__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port")]
        assert re.fullmatch(port["regex"], "10.0.1.7:3001;3001")
        assert relabel[("__meta_kubernetes_pod_annotation_prometheus_io_path",)][
            "target_label"] == "__metrics_path__"
        assert relabel[("__meta_kubernetes_pod_label_app_kubernetes_io_name",)][
            "target_label"] == pipeline.SERVICE
        assert job["kubernetes_sd_configs"] == [
            {"role": "pod", "namespaces": {"names": ["order-platform"]}}]


def test_the_latency_job_turns_buckets_into_counts_of_the_requests_counter():
    _, latency = pipeline.scrape_configs("order-platform")
    keep, rename = latency["metric_relabel_configs"]
    assert keep == {"source_labels": ["__name__"], "action": "keep",
                    "regex": f"{telemetry.HTTP_DURATION.name}_bucket"}
    assert rename["replacement"] == telemetry.HTTP_REQUESTS.name
    assert telemetry.HTTP_REQUESTS.kind is telemetry.Kind.COUNTER
    assert pipeline.latency_bounds() == (*(pipeline.le_label(b) for b in
                                           telemetry.HTTP_DURATION.buckets), "+Inf")
    assert pipeline.le_label(1.0) == "1.0" and pipeline.le_label(0.005) == "0.005"
    assert pipeline.le_label(math.inf) == "+Inf"


# --- the collector switch ---------------------------------------------------------------------

def test_the_shipped_switch_is_off_in_dev_and_on_in_staging_and_prod(stack_runs):
    assert {s: has_collector(r) for s, r in stack_runs.items()} == {
        "dev": False, "staging": True, "prod": True}


def test_off_there_is_no_collector_and_no_endpoint(stack_runs):
    for run in (stack_runs["dev"], run_stack("staging", {"collectorEnabled": False})):
        assert run.of_type(COLLECTOR) == []
        assert {a.inputs["addonName"] for a in run.of_type(ADDON)}.isdisjoint(
            {"adot", "cert-manager"})
        assert config_map(run)["OTEL_EXPORTER_OTLP_ENDPOINT"] == ""
        assert run.outputs[outputs.OTLP_ENDPOINT] == ""
        names = {r.inputs["metadata"]["name"] for r in k8s_objects(run)}
        assert not {"allow-telemetry", "pod-discovery"} & names


@pytest.mark.parametrize("run_on", [lambda runs: runs["prod"],
                                    lambda runs: run_stack("dev", {"collectorEnabled": True})],
                         ids=["prod", "dev-turned-on"])
def test_on_the_pods_send_traces_to_the_collector_service(stack_runs, run_on):
    run = run_on(stack_runs)
    collector = one(run, COLLECTOR).inputs
    name, namespace = collector["metadata"]["name"], collector["metadata"]["namespace"]
    endpoint = f"http://{name}-collector.{namespace}.svc.cluster.local:4318"
    assert config_map(run)["OTEL_EXPORTER_OTLP_ENDPOINT"] == endpoint
    assert run.outputs[outputs.OTLP_ENDPOINT] == endpoint
    egress = k8s_named(run, "NetworkPolicy", "allow-telemetry").inputs["spec"]["egress"]
    assert egress == [{"to": [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": namespace}}}],
        "ports": [{"port": 4318, "protocol": "TCP"}, {"port": 4317, "protocol": "TCP"}]}]


def test_the_operator_comes_from_the_adot_add_on_after_cert_manager(stack_runs):
    run = stack_runs["prod"]
    addons = {a.inputs["addonName"]: a for a in run.of_type(ADDON)}
    assert addons["adot"].depends_on(addons["cert-manager"])
    assert one(run, COLLECTOR).depends_on(addons["adot"])
    assert addons["cert-manager"].depends_on(one(run, "aws:eks/nodeGroup:NodeGroup"))


def test_the_collector_scrapes_the_services_into_cloudwatch_and_traces_into_xray(stack_runs):
    run = stack_runs["prod"]
    spec = one(run, COLLECTOR).inputs["spec"]
    config = spec["config"]
    assert spec["replicas"] == 1 and spec["mode"] == "deployment"
    assert spec["resources"] == COLLECTOR_SIZE.resources
    emf = config["exporters"]["awsemf"]
    log_group = next(g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")
                     if g.inputs["name"].endswith("/metrics"))
    assert emf["log_group_name"] == log_group.inputs["name"]
    assert log_group.inputs["kmsKeyId"] and log_group.inputs["retentionInDays"] == 365
    assert emf["namespace"] == prefix(run) and emf["dimension_rollup_option"] == "NoDimensionRollup"
    declared = {name.strip("^$") for d in emf["metric_declarations"]
                for name in d["metric_name_selectors"]}
    assert declared == {m.name for m in pipeline.EXPORTED} <= set(telemetry.METRICS)
    kept = config["processors"]["filter/exported"]["metrics"]["include"]["metric_names"]
    assert set(kept) == declared
    pipelines = config["service"]["pipelines"]
    assert pipelines["metrics"]["receivers"] == ["prometheus"]
    assert pipelines["metrics"]["exporters"] == ["awsemf"]
    assert pipelines["traces"] == {**pipelines["traces"], "receivers": ["otlp"],
                                   "exporters": ["awsxray"]}
    assert config["processors"]["probabilistic_sampler"]["sampling_percentage"] == config_value(
        run, "traceSamplePercent")
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")


def test_the_collector_may_write_its_log_group_and_traces_and_nothing_else(stack_runs):
    run = stack_runs["prod"]
    role = next(r for r in run.of_type("aws:iam/role:Role")
                if r.outputs["name"] == f"{prefix(run)}-collector")
    policy = next(p for p in run.of_type("aws:iam/rolePolicy:RolePolicy")
                  if p.inputs["role"] == role.outputs["name"])
    group = next(g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")
                 if g.inputs["name"].endswith("/metrics")).outputs["arn"]
    pairs = {(a, r) for s in document(policy)["Statement"]
             for a in as_list(s["Action"]) for r in as_list(s["Resource"])}
    assert pairs == {*((a, r) for a in ("logs:CreateLogStream", "logs:PutLogEvents",
                                        "logs:DescribeLogStreams")
                       for r in (group, f"{group}:*")),
                     ("xray:PutTraceSegments", "*"), ("xray:PutTelemetryRecords", "*")}
    (trust,) = document(role, "assumeRolePolicy")["Statement"]
    conditions = trust["Condition"]["StringEquals"]
    assert "system:serviceaccount:observability:adot-collector" in conditions.values()
    account = next(r for r in run.resources if r.type == "kubernetes:core/v1:ServiceAccount"
                   and r.inputs["metadata"]["name"] == "adot-collector")
    assert account.inputs["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": role.outputs["arn"]}


def test_the_collector_may_only_list_the_services_pods(stack_runs):
    run = stack_runs["prod"]
    role = k8s_named(run, "Role", "pod-discovery").inputs
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"],
                              "verbs": ["get", "list", "watch"]}]
    binding = k8s_named(run, "RoleBinding", "pod-discovery").inputs
    assert binding["roleRef"]["name"] == "pod-discovery"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "adot-collector",
                                    "namespace": "observability"}]


def test_only_the_services_reach_the_collector(stack_runs):
    run = stack_runs["prod"]
    policy = next(r for r in run.resources if r.type.endswith("NetworkPolicy")
                  and r.inputs["metadata"]["namespace"] == "observability").inputs["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": config_value(run, "namespace")}}}]


# --- the dashboard ----------------------------------------------------------------------------

def test_one_dashboard_per_stack_named_after_it(run):
    board = one(run, DASHBOARD)
    assert board.inputs["dashboardName"] == prefix(run) == run.outputs[outputs.DASHBOARD_NAME]


def test_every_queue_of_the_stack_has_its_widget(run):
    names = {q.outputs["name"] for q in run.of_type("aws:sqs/queue:Queue")}
    ages = sqs_rows(run, alerting.AGE_METRIC)
    depths = sqs_rows(run, alerting.DLQ_METRIC)
    assert ages | depths == names
    assert ages == {*(r.queue.name(prefix(run)) for r in ROUTES),
                    f"{prefix(run)}-karpenter-interruption"}
    assert depths == {n for n in names if n.endswith("-dlq")}


def test_service_widgets_are_built_from_the_catalogue_with_the_collector(run):
    text = json.dumps(body(run))
    catalogue = (telemetry.HTTP_REQUESTS, telemetry.OUTBOX_BACKLOG, telemetry.OUTBOX_OLDEST_AGE,
                 telemetry.ORDER_SETTLE)
    if not has_collector(run):
        assert not any(m.name in text for m in catalogue)
        assert "collectorEnabled" in text
        return
    assert all(m.name in text for m in catalogue)
    for api in APIS:
        bounds = {row[5] for row in rows(run) if row[:4] == [
            prefix(run), telemetry.HTTP_REQUESTS.name, pipeline.SERVICE, api]
            and row[4] == pipeline.LE}
        assert bounds == set(pipeline.latency_bounds()), api


def _evaluate(quantile_rows: list, values: dict[str, float], target: str) -> float:
    """Evaluate CloudWatch metric math over one point per metric, as the dashboard would."""
    expressions = {r[0]["id"]: r[0]["expression"] for r in quantile_rows if isinstance(r[0], dict)}
    ids = {r[-1]["id"]: r for r in quantile_rows if not isinstance(r[0], dict)}

    def value(name: str) -> float:
        if name in values:
            return values[name]
        code = expressions[name]
        names = {n: value(n) for n in re.findall(r"[a-z]\w*", code) if n in expressions or n in ids}
        # The expressions are ours and CloudWatch's syntax is Python's for these operators.
        return eval(code, {"IF": lambda c, t, f=0: t if c else f}, names)

    for row_id, row in ids.items():
        values.setdefault(row_id, values.pop(row[5], 0.0))
    return value(target)


@pytest.mark.parametrize(("fast_share", "p50", "p99"), [
    (1.0, "0.005", "0.005"),
    (0.0, "10.0", "10.0"),
])
def test_the_quantile_math_picks_the_first_bound_that_holds_the_share(fast_share, p50, p99):
    quantile_rows = dashboard.latency_quantiles("ns", "read-api", 0)
    counts = {le: 100.0 * fast_share for le in pipeline.latency_bounds()}
    counts["+Inf"] = 100.0
    assert _evaluate(quantile_rows, dict(counts), "a0p50") == float(p50)
    assert _evaluate(quantile_rows, dict(counts), "a0p99") == float(p99)


def test_the_quantiles_follow_a_real_distribution():
    quantile_rows = dashboard.latency_quantiles("ns", "read-api", 0)
    # 1000 requests: 600 within 25 ms, 985 within 100 ms, 995 within 250 ms, all within 1 s.
    within = {0.005: 0, 0.01: 100, 0.025: 600, 0.05: 900, 0.1: 985, 0.25: 995, 0.5: 998,
              1.0: 1000, 2.5: 1000, 5.0: 1000, 10.0: 1000}
    counts = {pipeline.le_label(b): float(n) for b, n in within.items()} | {"+Inf": 1000.0}
    assert _evaluate(quantile_rows, dict(counts), "a0p50") == 0.025
    assert _evaluate(quantile_rows, dict(counts), "a0p99") == 0.25
    assert _evaluate(quantile_rows, {k: 0.0 for k in counts}, "a0p99") == 0
    # Exactly 99% within 100 ms: the p99 is that bound, as Prometheus would say.
    counts[pipeline.le_label(0.1)] = 990.0
    assert _evaluate(quantile_rows, dict(counts), "a0p99") == 0.1


# --- the API alarms ---------------------------------------------------------------------------

def api_alarms(run) -> dict[str, dict]:
    return {a.inputs["name"]: a for a in run.of_type(ALARM) if "metricQueries" in a.inputs}


def test_two_alarms_per_api_with_the_collector_and_none_without(run):
    expected = {name(prefix(run), api) for api in APIS
                for name in (monitoring.error_rate_alarm_name, monitoring.latency_alarm_name)}
    assert set(api_alarms(run)) == (expected if has_collector(run) else set())


def _queries(alarm) -> dict[str, dict]:
    return {q["id"]: q for q in alarm.inputs["metricQueries"]}


def test_the_5xx_alarm_reads_the_catalogues_counter_at_the_stack_threshold(run):
    topic = one(run, "aws:sns/topic:Topic").outputs["arn"]
    for name, alarm in api_alarms(run).items():
        if not name.endswith("-5xx-rate"):
            continue
        api = name.removeprefix(f"{prefix(run)}-").removesuffix("-5xx-rate")
        queries = _queries(alarm)
        assert queries["errors"]["metric"] == {
            "namespace": prefix(run), "metricName": telemetry.HTTP_REQUESTS.name,
            "dimensions": {"service": api, "status_class": "5xx"}, "period": 60, "stat": "Sum"}
        assert queries["requests"]["metric"]["dimensions"] == {"service": api}
        least = config_value(run, "apiAlarmMinRequests")
        assert queries["rate"]["expression"] == (
            f"IF(requests >= {least}, 100 * FILL(errors, 0) / requests, 0)")
        assert alarm.inputs["threshold"] == config_value(run, "apiErrorRateAlarmPercent")
        assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [topic]
        assert alarm.inputs["evaluationPeriods"] == alarm.inputs["datapointsToAlarm"] == 3


def test_the_p99_alarm_counts_requests_slower_than_the_stack_bound(run):
    for name, alarm in api_alarms(run).items():
        if not name.endswith("-p99-latency"):
            continue
        queries = _queries(alarm)
        bound = config_value(run, "apiLatencyP99AlarmSeconds")
        assert queries["within"]["metric"]["dimensions"]["le"] == pipeline.le_label(bound)
        assert queries["requests"]["metric"]["dimensions"]["le"] == "+Inf"
        assert queries["within"]["metric"]["metricName"] == telemetry.HTTP_REQUESTS.name
        least = config_value(run, "apiAlarmMinRequests")
        assert queries["slower"]["expression"] == (
            f"IF(requests >= {least}, 100 * (requests - within) / requests, 0)")
        assert alarm.inputs["threshold"] == dashboard.P99_SLOWER_PERCENT == 1


def test_api_alarms_wait_for_the_topic_policy(run):
    policy = one(run, "aws:sns/topicPolicy:TopicPolicy")
    for alarm in api_alarms(run).values():
        assert alarm.depends_on(policy)


def test_thresholds_differ_per_stack(stack_runs):
    def thresholds(stack):
        return {a.inputs["threshold"] for name, a in api_alarms(stack_runs[stack]).items()
                if name.endswith("-5xx-rate")}
    assert thresholds("staging") == {2} and thresholds("prod") == {1}


@pytest.mark.parametrize(("override", "key"), [
    ({"apiLatencyP99AlarmSeconds": 0.3}, "apiLatencyP99AlarmSeconds"),
    ({"apiErrorRateAlarmPercent": 0}, "apiErrorRateAlarmPercent"),
    ({"apiErrorRateAlarmPercent": 100}, "apiErrorRateAlarmPercent"),
    ({"traceSamplePercent": 0}, "traceSamplePercent"),
])
def test_unusable_thresholds_are_refused(override, key):
    from infra.config import StackConfigError
    with pytest.raises(StackConfigError, match=key):
        run_stack("prod", override)


def _alarm_value(alarm, values: dict[str, float]) -> float:
    """The alarm's returned expression over one point per query (CloudWatch's IF, FILL)."""
    queries = _queries(alarm)
    (shown,) = [q for q in queries.values() if q.get("returnData")]
    functions = {"IF": lambda c, t, f=0: t if c else f, "FILL": lambda v, d: d if v is None else v}
    # The expressions are ours, and CloudWatch's syntax is Python's for these operators.
    return eval(shown["expression"], functions, dict(values))


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_api_alarms_ignore_minutes_with_fewer_requests_than_the_stack_minimum(
        stack_runs, stack):
    run = stack_runs[stack]
    least = config_value(run, "apiAlarmMinRequests")
    alarms = api_alarms(run)
    errors = alarms[monitoring.error_rate_alarm_name(prefix(run), "write-api")]
    latency = alarms[monitoring.latency_alarm_name(prefix(run), "write-api")]
    # One bad request in a quiet minute: no bad minute.
    assert _alarm_value(errors, {"requests": least - 1, "errors": 1}) == 0
    assert _alarm_value(latency, {"requests": least - 1, "within": least - 2}) == 0
    # The same share of a busy minute counts.
    assert _alarm_value(errors, {"requests": least, "errors": least // 10}) == pytest.approx(10)
    assert _alarm_value(errors, {"requests": least, "errors": None}) == 0
    assert _alarm_value(latency, {"requests": least, "within": least * 0.9}) == pytest.approx(10)


def test_minimum_request_counts_differ_per_stack(stack_runs):
    assert {s: config_value(r, "apiAlarmMinRequests") for s, r in stack_runs.items()
            if has_collector(r)} == {"staging": 100, "prod": 200}


@pytest.mark.parametrize("least", [0, -5])
def test_a_minimum_below_one_request_is_refused(least):
    from infra.config import StackConfigError
    with pytest.raises(StackConfigError, match="apiAlarmMinRequests"):
        run_stack("prod", {"apiAlarmMinRequests": least})


# --- the heartbeats ---------------------------------------------------------------------------

def heartbeats(run) -> dict[str, dict]:
    return {a.inputs["name"]: a.inputs for a in run.of_type(ALARM)
            if a.inputs["name"].endswith("-heartbeat")}


def test_a_heartbeat_per_deployed_process_with_the_collector_and_none_without(run):
    expected = {monitoring.heartbeat_alarm_name(prefix(run), p.role) for p in DEPLOYED}
    assert set(heartbeats(run)) == (expected if has_collector(run) else set())


def test_a_heartbeat_breaches_on_missing_data_and_reads_what_its_process_kind_always_sends(run):
    topic = one(run, "aws:sns/topic:Topic").outputs["arn"]
    for process in DEPLOYED if has_collector(run) else ():
        alarm = heartbeats(run)[monitoring.heartbeat_alarm_name(prefix(run), process.role)]
        wanted = telemetry.HTTP_REQUESTS if process.kind is Kind.API else telemetry.DB_POOL_SIZE
        assert (alarm["namespace"], alarm["metricName"], alarm["dimensions"]) == (
            prefix(run), wanted.name, {"service": process.role})
        assert wanted in telemetry.emitted_by(process)
        assert wanted.name in {m.name for m in pipeline.EXPORTED}
        assert alarm["treatMissingData"] == "breaching"
        assert (alarm["statistic"], alarm["period"]) == ("SampleCount", 60)
        assert (alarm["comparisonOperator"], alarm["threshold"]) == ("LessThanThreshold", 1)
        assert alarm["evaluationPeriods"] == alarm["datapointsToAlarm"] == 3
        assert alarm["alarmActions"] == alarm["okActions"] == [topic]


def test_the_threshold_alarms_keep_not_breaching_on_missing_data(run):
    for alarm in api_alarms(run).values():
        assert alarm.inputs["treatMissingData"] == "notBreaching"
