"""Every value a pod is told equals the output of the resource it names."""

from __future__ import annotations

import json

from infra import outputs
from infra.mock_cloud import image_digest
from order_platform.config import CONTRACT, load_settings
from order_platform.processes import DEPLOYED
from order_platform.topology import QUEUES, bus_name
from tests.infra.helpers import (
    config_value,
    deployments,
    k8s_named,
    one,
    pod_templates,
    prefix,
    stack_provider,
)

CONFIG_MAP = "order-platform-config"


def config_map(run) -> dict[str, str]:
    return k8s_named(run, "ConfigMap", CONFIG_MAP).inputs["data"]


def test_config_map_holds_exactly_the_infra_settings_of_the_contract(run):
    assert set(config_map(run)) == {s.env for s in CONTRACT if s.from_infra}


def test_config_map_parses_with_the_services_own_loader(run):
    settings = load_settings(config_map(run))
    assert settings.db_port == 5432
    assert settings.health_port is None  # each process's own, from the process catalogue


def test_database_values_equal_the_aurora_outputs(run):
    data = config_map(run)
    db = one(run, "aws:rds/cluster:Cluster").outputs
    assert data["DB_WRITER_ENDPOINT"] == db["endpoint"]
    assert data["DB_READER_ENDPOINT"] == db["readerEndpoint"]
    assert data["DB_SECRET_ARN"] == db["masterUserSecrets"][0]["secretArn"]
    assert data["DB_PORT"] == str(db["port"])
    assert data["DB_NAME"] == db["databaseName"] == config_value(run, "dbName")
    assert data["DB_WRITER_ENDPOINT"] != data["DB_READER_ENDPOINT"]


def test_bus_and_queue_values_equal_the_messaging_outputs(run):
    data = config_map(run)
    bus = one(run, "aws:cloudwatch/eventBus:EventBus").outputs
    assert data["EVENT_BUS_NAME"] == bus["name"] == bus_name(prefix(run))
    queues = {q.outputs["name"]: q.outputs for q in run.of_type("aws:sqs/queue:Queue")}
    for queue in QUEUES:
        assert data[queue.url_env_var] == queues[queue.name(prefix(run))]["url"]


def test_region_and_read_api_url_come_from_the_provider_and_the_nlb(run):
    data = config_map(run)
    provider = stack_provider(run)
    assert data["AWS_REGION"] == provider.inputs["region"] == config_value(run, "aws:region")
    read_listener = next(li for li in run.of_type("aws:lb/listener:Listener")
                         if li.inputs["port"] == 3001)
    assert data["READ_API_URL"] == f"{base_url(run)}:{read_listener.inputs['port']}"


def test_worker_settings_come_from_stack_config(run):
    data = config_map(run)
    assert data["WORKER_CONCURRENCY"] == str(config_value(run, "workerConcurrency"))



def test_every_pod_reads_the_config_map_and_sets_no_other_env(run):
    for name, pod in pod_templates(run).items():
        container = pod["containers"][0]
        assert container["envFrom"] == [{"configMapRef": {"name": CONFIG_MAP}}], name
        for var in container.get("env", []):  # any literal env must still match an output
            assert var["name"] in config_map(run) and var["value"] == config_map(run)[var["name"]]


def test_image_is_the_stack_repository_at_the_configured_tag_and_its_digest(run):
    repository = one(run, "aws:ecr/repository:Repository").outputs
    tag = config_value(run, "imageTag")
    assert tag != "latest"
    digest = image_digest(repository["name"], tag)  # what ECR reports for the pushed tag
    for name, pod in pod_templates(run).items():
        assert pod["containers"][0]["image"] == f"{repository['repositoryUrl']}:{tag}@{digest}", \
            name


def test_stack_outputs_equal_resource_outputs(run):
    out = run.outputs
    assert set(out) == set(outputs.ALL)
    db = one(run, "aws:rds/cluster:Cluster").outputs
    assert out[outputs.VPC_ID] == one(run, "aws:ec2/vpc:Vpc").id
    assert out[outputs.CLUSTER_NAME] == one(run, "aws:eks/cluster:Cluster").outputs["name"]
    assert out[outputs.DB_WRITER_ENDPOINT] == db["endpoint"]
    assert out[outputs.DB_READER_ENDPOINT] == db["readerEndpoint"]
    assert out[outputs.DB_SECRET_ARN] == db["masterUserSecrets"][0]["secretArn"]
    assert out[outputs.EVENT_BUS_NAME] == config_map(run)["EVENT_BUS_NAME"]
    assert out[outputs.QUEUE_URLS] == {q.key: config_map(run)[q.url_env_var] for q in QUEUES}
    assert out[outputs.READ_API_URL] == config_map(run)["READ_API_URL"]
    assert out[outputs.WRITE_API_URL] == f"{base_url(run)}:3000"


def base_url(run) -> str:
    """The APIs' scheme and host: https on the stack's domain, or http on the NLB (dev)."""
    tls = config_value(run, "apiTls")
    if tls.get("enabled", True):
        return f"https://{tls['domain']}"
    return f"http://{one(run, 'aws:lb/loadBalancer:LoadBalancer').outputs['dnsName']}"


def test_kubeconfig_is_secret_and_points_at_the_cluster(run):
    assert run.secret_outputs == {outputs.KUBECONFIG, outputs.MACHINE_CLIENT_SECRET}
    kubeconfig = json.loads(run.outputs[outputs.KUBECONFIG])
    cluster = one(run, "aws:eks/cluster:Cluster").outputs
    assert kubeconfig["clusters"][0]["cluster"]["server"] == cluster["endpoint"]
    provider = one(run, "pulumi:providers:kubernetes")
    assert json.loads(provider.inputs["kubeconfig"]) == kubeconfig


def test_migration_job_runs_before_every_deployment(run):
    job = next(r for r in run.resources if r.type == "kubernetes:batch/v1:Job")
    assert job.inputs["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    for name, deployment in deployments(run).items():
        assert job.urn in deployment.dependencies, f"{name} must wait for the migration"
    db_instances = {i.urn for i in run.of_type("aws:rds/clusterInstance:ClusterInstance")}
    db_component = one(run, "order-platform:database:Database").urn
    assert db_component in job.dependencies or db_instances <= set(job.dependencies)


def test_workload_commands_and_ports(run):
    expected = {p.role: p.probe_port for p in DEPLOYED}
    found = deployments(run)
    assert set(found) == set(expected)
    for name, port in expected.items():
        container = found[name].inputs["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == [name]
        assert container["ports"][0]["containerPort"] == port
        probe_port = container["ports"][0]["name"]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": probe_port}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": probe_port}
