"""Small readers over a StackRun, shared by the infra tests."""

from __future__ import annotations

import json

from infra.simulation import REPO_ROOT, SimulatedResource, StackRun, read_yaml

_SCHEMA = read_yaml(REPO_ROOT / "Pulumi.yaml")["config"]

K8S_PREFIX = "kubernetes:"
COMPONENT_PREFIX = "order-platform:"


def config_value(run: StackRun, key: str):
    """A stack config value as the program saw it (JSON-decoded where it is JSON)."""
    raw = run.config[key if ":" in key else f"order-platform:{key}"]
    if ":" in key or _SCHEMA.get(key, {}).get("type") == "string":
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def prefix(run: StackRun) -> str:
    """``order-platform-<stack>``."""
    return f"order-platform-{run.stack}"


def one(run: StackRun, type_token: str) -> SimulatedResource:
    """The single resource of a type; fails if there is not exactly one."""
    found = run.of_type(type_token)
    assert len(found) == 1, f"expected one {type_token}, found {len(found)}"
    return found[0]


def stack_provider(run: StackRun) -> SimulatedResource:
    """The stack's AWS provider (region and default tags); prod has a second one, for the
    backup copies' region."""
    return run.named("pulumi:providers:aws", "aws")


def by_output(run: StackRun, type_token: str, key: str, value) -> SimulatedResource:
    """The resource of a type whose output ``key`` equals ``value``."""
    found = [r for r in run.of_type(type_token) if r.outputs.get(key) == value]
    assert len(found) == 1, f"expected one {type_token} with {key}={value!r}, found {len(found)}"
    return found[0]


def document(resource: SimulatedResource, key: str = "policy") -> dict:
    """A JSON policy held in an input, parsed."""
    raw = resource.inputs[key]
    return json.loads(raw) if isinstance(raw, str) else raw


def k8s_objects(run: StackRun) -> list[SimulatedResource]:
    """Every Kubernetes object of the services (the Workloads component's children)."""
    workloads = one(run, "order-platform:workloads:Workloads").urn
    return [r for r in run.resources if r.type.startswith(K8S_PREFIX) and r.parent == workloads]


def cluster_add_ons(run: StackRun) -> list[SimulatedResource]:
    """Kubernetes resources the platform installs besides the services (Karpenter)."""
    workloads = one(run, "order-platform:workloads:Workloads").urn
    return [r for r in run.resources if r.type.startswith(K8S_PREFIX) and r.parent != workloads]


def k8s_named(run: StackRun, kind: str, name: str) -> SimulatedResource:
    """The Kubernetes object of ``kind`` with ``metadata.name``."""
    found = [r for r in k8s_objects(run)
             if r.inputs["kind"] == kind and r.inputs["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def deployments(run: StackRun) -> dict[str, SimulatedResource]:
    """Deployments by name."""
    return {r.inputs["metadata"]["name"]: r for r in k8s_objects(run)
            if r.inputs["kind"] == "Deployment"}


def pod_templates(run: StackRun) -> dict[str, dict]:
    """Pod specs of every Deployment and Job, by object name."""
    return {r.inputs["metadata"]["name"]: r.inputs["spec"]["template"]["spec"]
            for r in k8s_objects(run) if r.inputs["kind"] in ("Deployment", "Job")}


def as_list(value) -> list:
    """IAM allows a string or a list wherever a list is meant."""
    return value if isinstance(value, list) else [value]
