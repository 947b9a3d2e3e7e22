"""Kubernetes workload rules, with objects in the manifest shape pulumi-kubernetes sends."""

import pytest

from guardrails import containers, images, workload_coverage, workloads
from tests.policies.engine_view import (
    DELETE,
    changed,
    messages,
    provider,
    resource_args,
    stack_args,
    urn_of,
    violations,
)

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
CRONJOB = "kubernetes:batch/v1:CronJob"
POD = "kubernetes:core/v1:Pod"
SECURE = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER = {
    "name": "write-api",
    "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/order-platform-prod:0.1.0"
    "@sha256:" + "ab" * 32,
    "imagePullPolicy": "IfNotPresent",
    "args": ["write-api"],
    "ports": [{"containerPort": 3000, "name": "http"}],
    "resources": {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    },
    "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
    "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}},
    "securityContext": SECURE,
}
POD_SPEC = {
    "serviceAccountName": "write-api",
    "containers": [CONTAINER],
    "volumes": [{"name": "tmp", "emptyDir": {}}],
}
GOOD_DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "write-api", "namespace": "order-platform"},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "write-api"}},
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "write-api"}},
            "spec": POD_SPEC,
        },
    },
}
CONTAINER_RULES = [
    containers.k8s_resource_requests_and_limits,
    containers.k8s_run_as_non_root,
    containers.k8s_read_only_root_filesystem,
    containers.k8s_no_privilege_escalation,
    containers.k8s_drop_all_capabilities,
    containers.k8s_seccomp_runtime_default,
    containers.k8s_probes,
    images.k8s_image_pinned,
    workloads.k8s_no_host_access,
]


def check(policy, props, resource_type=DEPLOYMENT, **kwargs):
    return messages(policy, resource_args(policy, resource_type, props, name="write-api", **kwargs))


def container_changed(**paths):
    return changed(
        GOOD_DEPLOYMENT,
        **{f"spec__template__spec__containers__0__{k}": v for k, v in paths.items()},
    )


@pytest.mark.parametrize("policy", workloads.POLICIES)
def test_a_restricted_deployment_passes_every_rule(policy):
    assert check(policy, GOOD_DEPLOYMENT) == []


@pytest.mark.parametrize(
    ("policy", "props", "expected"),
    [
        (
            containers.k8s_resource_requests_and_limits,
            container_changed(resources=DELETE),
            "requests.cpu, requests.memory, limits.cpu, limits.memory",
        ),
        (
            containers.k8s_resource_requests_and_limits,
            container_changed(resources__limits__memory=DELETE),
            "limits.memory",
        ),
        (
            containers.k8s_run_as_non_root,
            container_changed(securityContext__runAsNonRoot=DELETE),
            "may run as root",
        ),
        (
            containers.k8s_run_as_non_root,
            container_changed(securityContext__runAsUser=0),
            "runAsUser 0",
        ),
        (
            containers.k8s_read_only_root_filesystem,
            container_changed(securityContext__readOnlyRootFilesystem=False),
            "writable root",
        ),
        (
            containers.k8s_no_privilege_escalation,
            container_changed(securityContext__allowPrivilegeEscalation=DELETE),
            "allows privilege escalation",
        ),
        (
            containers.k8s_no_privilege_escalation,
            container_changed(securityContext__privileged=True),
            "is privileged",
        ),
        (
            containers.k8s_drop_all_capabilities,
            container_changed(securityContext__capabilities__drop=["NET_RAW"]),
            "drop ALL",
        ),
        (
            containers.k8s_seccomp_runtime_default,
            container_changed(securityContext__seccompProfile__type="Unconfined"),
            "RuntimeDefault",
        ),
        (containers.k8s_probes, container_changed(livenessProbe=DELETE), "has no livenessProbe"),
        (
            containers.k8s_probes,
            container_changed(livenessProbe=DELETE, readinessProbe=DELETE),
            "livenessProbe or readinessProbe",
        ),
        (images.k8s_image_pinned, container_changed(image="nginx"), "has no tag"),
        (images.k8s_image_pinned, container_changed(image="nginx:latest"), "'latest' tag"),
        (
            images.k8s_image_pinned,
            container_changed(image="registry.local:5000/app"),
            "has no tag",
        ),
    ],
)
def test_a_container_that_breaks_a_rule_is_reported(policy, props, expected):
    found = check(policy, props)
    assert len(found) == 1, found
    assert expected in found[0] and "Container 'write-api'" in found[0]


def test_pod_level_security_context_counts_for_inherited_fields():
    props = container_changed(
        securityContext__runAsNonRoot=DELETE, securityContext__seccompProfile=DELETE
    )
    props = changed(
        props,
        spec__template__spec__securityContext={
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    )
    assert check(containers.k8s_run_as_non_root, props) == []
    assert check(containers.k8s_seccomp_runtime_default, props) == []
    # ...but the container's own setting wins over the pod's.
    root = changed(props, spec__template__spec__containers__0__securityContext__runAsNonRoot=False)
    assert check(containers.k8s_run_as_non_root, root) != []


def test_init_containers_are_held_to_the_security_rules_but_not_to_probes():
    without_probes = {k: v for k, v in CONTAINER.items() if not k.endswith("Probe")}
    init = {**without_probes, "name": "wait", "securityContext": {}}
    props = changed(GOOD_DEPLOYMENT, spec__template__spec__initContainers=[init])
    assert "Container 'wait'" in check(containers.k8s_run_as_non_root, props)[0]
    assert check(containers.k8s_probes, props) == []


def test_jobs_cronjobs_and_pods_are_checked_in_their_own_shapes():
    root = {**CONTAINER, "securityContext": {**SECURE, "runAsNonRoot": False}}
    job = {
        "metadata": {"namespace": "order-platform"},
        "spec": {"template": {"spec": {"containers": [root], "restartPolicy": "Never"}}},
    }
    cron = {
        "metadata": {"namespace": "order-platform"},
        "spec": {"schedule": "* * * * *", "jobTemplate": job},
    }
    pod = {"metadata": {"namespace": "order-platform"}, "spec": {"containers": [root]}}
    for kind, props in ((JOB, job), (CRONJOB, cron), (POD, pod)):
        assert len(check(containers.k8s_run_as_non_root, props, kind)) == 1, kind
    # A Job finishes; it needs no probes.
    job_without_probes = changed(
        job,
        spec__template__spec__containers=[
            {k: v for k, v in CONTAINER.items() if not k.endswith("Probe")}
        ],
    )
    assert check(containers.k8s_probes, job_without_probes, JOB) == []


@pytest.mark.parametrize(
    ("image", "ok"),
    [
        ("app:1.2.3", True),
        ("registry.local:5000/team/app:1.2.3", True),
        ("app@sha256:" + "a" * 64, True),
        ("app:latest", False),
        ("registry.local:5000/team/app", False),
        ("app:stable", False),
    ],
)
def test_image_references(image, ok):
    found = check(
        images.k8s_image_pinned,
        container_changed(image=image),
        forbiddenTags=["latest", "stable"],
    )
    assert (found == []) is ok


def test_default_namespace_is_refused_unless_the_provider_sets_one():
    policy = workloads.k8s_no_default_namespace
    no_namespace = changed(GOOD_DEPLOYMENT, metadata__namespace=DELETE)
    assert "'default' namespace" in check(policy, no_namespace)[0]
    assert check(policy, changed(GOOD_DEPLOYMENT, metadata__namespace="default")) != []
    k8s = provider("kubernetes", {"namespace": "order-platform"}, name="eks")
    assert check(policy, no_namespace, provider_resource=k8s) == []
    cluster_scoped = {"metadata": {"name": "order-platform"}}
    assert check(policy, cluster_scoped, "kubernetes:core/v1:Namespace") == []
    # Karpenter's pools and node classes are cluster-scoped custom resources.
    node_pool = {"metadata": {"name": "workloads"}, "spec": {}}
    assert check(policy, node_pool, "kubernetes:karpenter.sh/v1:NodePool") == []
    assert check(policy, node_pool, "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass") == []
    config_map = {"metadata": {"name": "contract"}, "data": {"A": "b"}}
    assert check(policy, config_map, "kubernetes:core/v1:ConfigMap") != []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("hostNetwork", True, "hostNetwork"),
        ("hostPID", True, "hostPID"),
        (
            "volumes",
            [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}],
            "hostPath volume 'docker'",
        ),
    ],
)
def test_host_access_fails(path, value, expected):
    found = check(
        workloads.k8s_no_host_access,
        changed(GOOD_DEPLOYMENT, **{f"spec__template__spec__{path}": value}),
    )
    assert len(found) == 1 and expected in found[0]


def test_load_balancer_services_are_forbidden():
    policy = workloads.k8s_no_load_balancer_service
    service = {
        "metadata": {"namespace": "order-platform"},
        "spec": {
            "type": "NodePort",
            "ports": [{"port": 3000, "nodePort": 30300}],
            "selector": {"app.kubernetes.io/name": "write-api"},
        },
    }
    assert check(policy, service, workloads.SERVICE) == []
    assert check(policy, changed(service, spec__type=DELETE), workloads.SERVICE) == []
    found = check(policy, changed(service, spec__type="LoadBalancer"), workloads.SERVICE)
    assert len(found) == 1 and "LoadBalancer" in found[0]


PDB, NETPOL = workload_coverage.PDB, workload_coverage.NETWORK_POLICY
LABELS = {"app.kubernetes.io/name": "write-api"}


def pdb(selector, namespace="order-platform"):
    return (
        PDB,
        "write-api",
        {"metadata": {"namespace": namespace}, "spec": {"maxUnavailable": 1, "selector": selector}},
    )


def netpol(selector, namespace="order-platform", name="default-deny"):
    return (
        NETPOL,
        name,
        {
            "metadata": {"namespace": namespace},
            "spec": {"podSelector": selector, "policyTypes": ["Ingress"]},
        },
    )


def coverage(policy, *guards):
    return violations(
        policy, stack_args(policy, [(DEPLOYMENT, "write-api", GOOD_DEPLOYMENT), *guards])
    )


@pytest.mark.parametrize(
    "selector",
    [
        {"matchLabels": LABELS},
        {
            "matchExpressions": [
                {
                    "key": "app.kubernetes.io/name",
                    "operator": "In",
                    "values": ["write-api", "read-api"],
                }
            ]
        },
        {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "Exists"}]},
    ],
)
def test_a_matching_pdb_covers_the_deployment(selector):
    assert coverage(workload_coverage.k8s_deployment_has_pdb, pdb(selector)) == []


@pytest.mark.parametrize(
    "guards",
    [
        [],
        [pdb({"matchLabels": {"app.kubernetes.io/name": "read-api"}})],
        [pdb({"matchLabels": LABELS}, namespace="other")],
        [
            pdb(
                {
                    "matchExpressions": [
                        {
                            "key": "app.kubernetes.io/name",
                            "operator": "NotIn",
                            "values": ["write-api"],
                        }
                    ]
                }
            )
        ],
    ],
)
def test_a_deployment_without_a_matching_pdb_is_reported(guards):
    found = coverage(workload_coverage.k8s_deployment_has_pdb, *guards)
    assert len(found) == 1 and found[0][1] == urn_of(DEPLOYMENT, "write-api")
    assert "no PodDisruptionBudget" in found[0][0]


def test_a_default_deny_network_policy_covers_every_deployment_in_its_namespace():
    policy = workload_coverage.k8s_deployment_has_network_policy
    assert coverage(policy, netpol({})) == []
    assert coverage(policy, netpol({"matchLabels": LABELS}, name="write-api")) == []


@pytest.mark.parametrize(
    "guards",
    [[], [netpol({}, namespace="other")], [netpol({"matchLabels": {"tier": "db"}})]],
)
def test_a_deployment_without_a_network_policy_is_reported(guards):
    found = coverage(workload_coverage.k8s_deployment_has_network_policy, *guards)
    assert len(found) == 1 and "not selected by any NetworkPolicy" in found[0][0]
