"""Rollout: pods restart when their config changes (and only then) and run the pushed digest.

Also the first `up` of a stack, whose repository does not exist yet, and a release whose
tag was never pushed.
"""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from infra.capacity import NODE_ARCHITECTURE
from infra.components.registry import ImageNotPushedError
from infra.simulation import REPO_ROOT, run_stack
from tests.infra.helpers import config_value, k8s_named, pod_templates, prefix

CHECKSUM = "checksum/config"
CONFIG_MAP = "order-platform-config"


def checksums(run) -> dict[str, str]:
    """The config checksum annotation of every pod template (Deployments and the Job)."""
    found = {}
    for resource in run.resources:
        if resource.type in ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job"):
            template = resource.inputs["spec"]["template"]
            found[resource.inputs["metadata"]["name"]] = template["metadata"]["annotations"][
                CHECKSUM]
    return found


def test_every_pod_template_carries_the_checksum_of_the_config_it_reads(run):
    data = k8s_named(run, "ConfigMap", CONFIG_MAP).inputs["data"]
    expected = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    found = checksums(run)
    assert len(found) == len(pod_templates(run)) >= 5
    assert set(found.values()) == {expected}


def test_a_changed_config_value_changes_every_checksum(stack_runs):
    before = checksums(stack_runs["dev"])
    after = checksums(run_stack("dev", {"workerConcurrency": 9}))
    assert before.keys() == after.keys()
    assert all(after[name] != before[name] for name in before)


def test_a_change_pods_do_not_read_leaves_the_pods_alone(stack_runs):
    before = stack_runs["dev"]
    after = run_stack("dev", {"queueAgeAlarmSeconds": 1200, "logRetentionDays": 14})
    assert checksums(after) == checksums(before)
    assert pod_templates(after) == pod_templates(before)


def test_pods_run_the_digest_ecr_reports_for_the_tag(run):
    tag = config_value(run, "imageTag")
    for name, pod in pod_templates(run).items():
        image = pod["containers"][0]["image"]
        assert re.fullmatch(rf".+/{prefix(run)}:{re.escape(tag)}@sha256:[0-9a-f]{{64}}", image), \
            name


def test_a_new_tag_is_a_new_digest(stack_runs):
    tag = "0.1.1-dev.1"
    again = run_stack("dev", {"imageTag": tag})
    old = {p["containers"][0]["image"] for p in pod_templates(stack_runs["dev"]).values()}
    new = {p["containers"][0]["image"] for p in pod_templates(again).values()}
    assert len(old) == len(new) == 1 and old != new


def test_the_first_up_creates_the_platform_and_waits_for_the_image(caplog):
    fresh = run_stack("dev", ecr={})
    assert not [r for r in fresh.resources if r.type.startswith("order-platform:workloads")]
    assert fresh.of_type("aws:ecr/repository:Repository")
    assert fresh.of_type("aws:eks/cluster:Cluster")
    assert fresh.of_type("kubernetes:karpenter.sh/v1:NodePool")
    assert "the services are not deployed yet" in caplog.text


def test_a_tag_that_was_never_pushed_stops_the_up(stack_runs):
    pushed = config_value(stack_runs["dev"], "imageTag")
    with pytest.raises(ImageNotPushedError, match=re.escape("make image STACK=<stack> TAG=0.9.9")):
        run_stack("dev", {"imageTag": "0.9.9"}, ecr={"order-platform-dev": [pushed]})
    with pytest.raises(ImageNotPushedError):
        run_stack("dev", ecr={"order-platform-dev": []})


def test_make_image_builds_for_the_nodes_architecture():
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert re.search(rf"^IMAGE_PLATFORM \?= linux/{NODE_ARCHITECTURE}$", makefile, re.M)
    recipe = makefile.split("\nimage:", 1)[1].split("\n\n", 1)[0]
    assert "docker buildx build --platform $(IMAGE_PLATFORM)" in recipe
    assert "--provenance=false" in recipe and "--push" in recipe
    assert "services/Dockerfile" in recipe


# --- zero-downtime: a pod that goes away drains first ---------------------------------------
def test_every_api_pod_drains_before_sigterm_and_its_grace_covers_it(run):
    from order_platform import launch, processes

    pods = pod_templates(run)
    for process in processes.DEPLOYED:
        pod = pods[process.role]
        (container,) = pod["containers"]
        assert pod["terminationGracePeriodSeconds"] == process.termination_grace_seconds
        if process.kind is processes.Kind.API:
            assert process.drain_seconds > 0
            assert container["lifecycle"]["preStop"] == {
                "exec": {"command": launch.drain_command(process, python="python")}}
            # preStop, then SIGTERM and the in-flight drain, then a margin before SIGKILL.
            assert pod["terminationGracePeriodSeconds"] >= (
                process.drain_seconds + process.shutdown_grace_seconds + 1)
        else:
            assert "lifecycle" not in container, "nobody connects to it: nothing to drain"


def test_the_load_balancer_keeps_a_leaving_nodes_flows_within_the_apis_grace(run):
    from order_platform import processes

    apis = [p for p in processes.DEPLOYED if p.kind is processes.Kind.API]
    for group in run.of_type("aws:lb/targetGroup:TargetGroup"):
        delay = group.inputs["deregistrationDelay"]
        assert delay <= min(p.termination_grace_seconds for p in apis)
        assert delay >= max(p.drain_seconds + p.shutdown_grace_seconds for p in apis)


def test_karpenter_moves_pods_only_after_load_settles_and_one_node_at_a_time(run):
    pool = next(r for r in run.resources if r.type == "kubernetes:karpenter.sh/v1:NodePool")
    disruption = pool.inputs["spec"]["disruption"]
    minutes = int(disruption["consolidateAfter"].removesuffix("m"))
    hpa_scale_down_window_minutes = 5  # Kubernetes' default; the HPAs set no `behavior`
    for hpa in run.resources:
        if hpa.type == "kubernetes:autoscaling/v2:HorizontalPodAutoscaler":
            assert "behavior" not in hpa.inputs["spec"]
    assert minutes >= 3 * hpa_scale_down_window_minutes
    assert disruption["budgets"] == [{"nodes": "1"}]


def test_the_image_base_is_pinned_by_digest_and_has_the_drains_interpreter():
    from infra.components.pod_spec import CONTAINER_PYTHON

    dockerfile = (REPO_ROOT / "services" / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.MULTILINE).group(1)
    assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", base), base
    # The preStop runs `python -m ...draining`: the official python images put it on PATH.
    assert CONTAINER_PYTHON == "python" and base.startswith("python:")
