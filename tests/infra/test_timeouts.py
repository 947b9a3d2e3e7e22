"""Time: every wait Pulumi does is at least as long as the thing it waits for.

pulumi-kubernetes waits 10 minutes for a Job or a rollout unless told otherwise, and a
failed Job would keep failing every later `up` of the same release. The expected durations
are recomputed here from the objects the program builds (deadlines, probes, surge).
"""

from __future__ import annotations

import math
import re

from infra.capacity import surge
from infra.components.cluster import MINUTES_PER_NODE_REPLACEMENT
from infra.components.pod_spec import NODE_READY_SECONDS
from tests.infra.helpers import config_value, deployments, k8s_named, one

DEFAULT_AWAIT_SECONDS = 600


def seconds(duration: str) -> int:
    """A Pulumi custom timeout (``"25m"``, ``"1h30m"``, ``"90s"``) in seconds."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert parts and duration, f"not a duration: {duration!r}"
    hours, minutes, secs = (int(p or 0) for p in parts.groups())
    return hours * 3600 + minutes * 60 + secs


def rollout_seconds(deployment, max_replicas: int) -> int:
    """The longest a rollout at ``max_replicas`` takes, from the Deployment's own settings."""
    spec = deployment.inputs["spec"]
    surge_percent = int(spec["strategy"]["rollingUpdate"]["maxSurge"].rstrip("%"))
    batch = math.ceil(max_replicas * surge_percent / 100)
    container = spec["template"]["spec"]["containers"][0]
    startup, ready = container["startupProbe"], container["readinessProbe"]
    per_batch = (NODE_READY_SECONDS + startup["periodSeconds"] * startup["failureThreshold"]
                 + ready["periodSeconds"] * ready["failureThreshold"])
    return math.ceil(max_replicas / batch) * per_batch


def test_pulumi_waits_for_the_migration_longer_than_its_deadline(run):
    job = one(run, "kubernetes:batch/v1:Job")
    deadline = job.inputs["spec"]["activeDeadlineSeconds"]
    assert deadline > DEFAULT_AWAIT_SECONDS  # the default wait alone would be too short
    assert set(job.custom_timeouts) >= {"create", "update"}
    for step in ("create", "update"):
        assert seconds(job.custom_timeouts[step]) > deadline


def test_a_failed_migration_is_replaced_by_the_next_up_not_waited_on(run):
    job = one(run, "kubernetes:batch/v1:Job")
    assert job.annotations["pulumi.com/replaceUnready"] == "true"
    assert job.delete_before_replace is True, "the new Job has the failed one's name"
    assert job.inputs["metadata"]["name"].startswith("db-migrate-")


def test_pulumi_waits_for_each_rollout_at_the_hpa_maximum(run):
    for name, deployment in deployments(run).items():
        maximum = k8s_named(run, "HorizontalPodAutoscaler", name).inputs["spec"]["maxReplicas"]
        needed = rollout_seconds(deployment, maximum)
        for step in ("create", "update"):
            waited = seconds(deployment.custom_timeouts[step])
            assert waited >= max(needed, DEFAULT_AWAIT_SECONDS), (name, waited, needed)


def test_prod_rollouts_outlast_the_default_wait(stack_runs):
    read_api = deployments(stack_runs["prod"])["read-api"]
    assert rollout_seconds(read_api, 20) > DEFAULT_AWAIT_SECONDS
    assert surge(20) == 5


def test_the_node_group_update_waits_for_every_node_to_be_replaced(run):
    group = one(run, "aws:eks/nodeGroup:NodeGroup")
    nodes = config_value(run, "systemNodeMaxSize")
    assert seconds(group.custom_timeouts["update"]) >= nodes * MINUTES_PER_NODE_REPLACEMENT * 60


def test_helm_waits_long_enough_for_karpenter(run):
    for release in run.of_type("kubernetes:helm.sh/v3:Release"):
        assert release.inputs["timeout"] >= DEFAULT_AWAIT_SECONDS, release.name
