"""What every pod of the services looks like: pure data from the process catalogue.

The ``Workloads`` component turns these into Kubernetes objects; the collector borrows the
security context. Every process-specific value (role, ports, probe paths, drain and grace
periods) comes from ``order_platform.processes``; sizes from ``infra/capacity.py``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import cast

import pulumi

from infra.capacity import PodSize, surge
from order_platform.launch import drain_command
from order_platform.processes import Kind, Process

PART_OF = "order-platform"
RUN_AS_ID = 10001
CONFIG_CHECKSUM = "checksum/config"
"""Pod-template annotation: the SHA-256 of the ConfigMap data, so pods restart when it changes."""
AWAIT_MARGIN_SECONDS = 300
"""What Pulumi waits beyond a deadline, so Kubernetes reports the failure, not a Pulumi timeout."""
STARTUP_PERIOD_SECONDS = 2
STARTUP_FAILURES = 30
READINESS_PERIOD_SECONDS = 5
READINESS_FAILURES = 2
NODE_READY_SECONDS = 180
"""Karpenter launching a node and the kubelet pulling the image, per rollout batch."""
CONTAINER_PYTHON = "python"
"""The image's interpreter (python:3.11-slim, on the container's PATH): runs the preStop drain."""


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
        the image, a started container and consecutive ready probes, and each replaced pod
        its termination grace (the APIs drain before they stop)."""
        batches = math.ceil(self.max_replicas / surge(self.max_replicas))
        per_batch = (NODE_READY_SECONDS + STARTUP_PERIOD_SECONDS * STARTUP_FAILURES
                     + READINESS_PERIOD_SECONDS * READINESS_FAILURES
                     + self.process.termination_grace_seconds)
        return batches * per_batch


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


def serving_container(spec: WorkloadSpec) -> dict:
    """Ports, probes, resources and, for an API, the preStop drain of a Deployment's container.

    The drain (``order_platform.entrypoints.web.draining``) keeps the API serving, not ready,
    for its ``drain_seconds`` before SIGTERM; the pod's termination grace covers it (the
    catalogue's ``termination_grace_seconds``).
    """
    probes, port = spec.process.probes, spec.port_name
    container = {
        "ports": [{"name": spec.port_name, "container_port": spec.port, "protocol": "TCP"}],
        "liveness_probe": {"http_get": {"path": probes.liveness, "port": port},
                           "period_seconds": 10, "timeout_seconds": 2, "failure_threshold": 3},
        "readiness_probe": {"http_get": {"path": probes.readiness, "port": port},
                            "period_seconds": READINESS_PERIOD_SECONDS, "timeout_seconds": 2,
                            "failure_threshold": READINESS_FAILURES},
        "startup_probe": {"http_get": {"path": probes.liveness, "port": port},
                          "period_seconds": STARTUP_PERIOD_SECONDS,
                          "failure_threshold": STARTUP_FAILURES},
        "resources": spec.size.resources,
    }
    if spec.process.drain_seconds:
        container["lifecycle"] = {"pre_stop": {"exec": {
            "command": drain_command(spec.process, python=CONTAINER_PYTHON)}}}
    return container


def pod_template(process: Process, *, image: pulumi.Input[str], service_account: pulumi.Input[str],
                 config_map: pulumi.Input[str], checksum: pulumi.Input[str],
                 container: dict) -> dict:
    """The pod template of a process: its labels, config checksum and locked-down pod."""
    return {
        "metadata": {"labels": labels(process.role),
                     "annotations": {CONFIG_CHECKSUM: checksum}},
        "spec": {
            "service_account_name": service_account,
            "automount_service_account_token": False,
            "enable_service_links": False,
            # The drain (preStop), SIGTERM and the process's own shutdown grace, then a margin
            # before SIGKILL: all from the catalogue.
            "termination_grace_period_seconds": process.termination_grace_seconds,
            "security_context": {"run_as_non_root": True, "run_as_user": RUN_AS_ID,
                                 "run_as_group": RUN_AS_ID, "fs_group": RUN_AS_ID,
                                 "seccomp_profile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": process.role,
                "image": image,
                "image_pull_policy": "IfNotPresent",
                "args": [process.role],
                "env_from": [{"config_map_ref": {"name": config_map}}],
                "security_context": container_security_context(),
                # The only writable path: gunicorn's heartbeat files, Python temp files and the
                # drain's mark.
                "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],  # noqa: S108
                **container,
            }],
            "volumes": [{"name": "tmp", "empty_dir": {"size_limit": "64Mi"}}],
        },
    }
