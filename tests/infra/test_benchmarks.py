"""checkov over what every stack synthesizes: each finding is fixed or accepted with a reason.

One checkov process scans every stack (checkov's import is most of its cost) plus a canary: a
copy of prod with each fix undone, which proves that the rendering feeds the checks that the
fixes pass (a mapping mistake would otherwise pass silently).
"""

from __future__ import annotations

import copy

import pytest

from infra.benchmarks import render, scan
from infra.simulation import StackRun

CANARY = "canary"
FIXED = {
    # check id: what the canary breaks (resource glob), i.e. what the program now does right
    "CKV_AWS_158": "aws_cloudwatch_log_group.*",  # log groups encrypted with our KMS key
    "CKV_AWS_118": "aws_rds_cluster_instance.*",  # Aurora Enhanced Monitoring
    "CKV2_AWS_12": "aws_vpc.*",  # the VPC's default security group has no rules
    "CKV_AWS_136": "aws_ecr_repository.*",  # ECR encrypted with KMS
    "CKV2_AWS_27": "aws_rds_cluster.*",  # statement logging in the cluster parameter group
    "CKV_K8S_43": "Deployment.*.write-api",  # images by digest
    "CKV_K8S_40": "Deployment.*.write-api",  # UID >= 10000
    "CKV_K8S_15": "Deployment.*.write-api",  # explicit pull policy (IfNotPresent by digest)
    "CKV_AWS_29": "aws_elasticache_replication_group.*",  # the cache encrypted at rest
    "CKV_AWS_30": "aws_elasticache_replication_group.*",  # the cache requires TLS
    "CKV_AWS_31": "aws_elasticache_replication_group.*",  # the cache requires an AUTH token
    "CKV_AWS_191": "aws_elasticache_replication_group.*",  # with our KMS key
    "CKV2_AWS_50": "aws_elasticache_replication_group.*",  # prod's cache fails over (Multi-AZ)
}


def canary(prod: StackRun) -> StackRun:
    """prod with every fix of ``FIXED`` undone."""
    run = copy.deepcopy(prod)
    run.stack = CANARY
    for group in run.of_type("aws:cloudwatch/logGroup:LogGroup"):
        group.outputs.pop("kmsKeyId")
    for instance in run.of_type("aws:rds/clusterInstance:ClusterInstance"):
        instance.outputs.pop("monitoringInterval")
    default_sg, = run.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    default_sg.outputs["ingress"] = [{"protocol": "-1", "fromPort": 0, "toPort": 0,
                                      "self": True}]
    repository, = run.of_type("aws:ecr/repository:Repository")
    repository.outputs["encryptionConfigurations"] = [{"encryptionType": "AES256"}]
    parameters, = run.of_type("aws:rds/clusterParameterGroup:ClusterParameterGroup")
    parameters.outputs["parameters"] = [p for p in parameters.outputs["parameters"]
                                        if p["name"] != "log_statement"]
    deployment = next(r for r in run.of_type("kubernetes:apps/v1:Deployment")
                      if r.inputs["metadata"]["name"] == "write-api")
    pod = deployment.inputs["spec"]["template"]["spec"]
    container = pod["containers"][0]
    container["image"] = container["image"].split("@")[0]
    del container["imagePullPolicy"]
    for context in (pod["securityContext"], container["securityContext"]):
        context.update(runAsUser=1000, runAsGroup=1000)
    cache, = run.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    for attribute in ("authToken", "kmsKeyId"):
        cache.outputs.pop(attribute)
    cache.outputs.update(atRestEncryptionEnabled=False, transitEncryptionEnabled=False,
                         automaticFailoverEnabled=False, multiAzEnabled=False)
    return run


@pytest.fixture(scope="module")
def findings(stack_runs, tmp_path_factory) -> list[scan.Finding]:
    """Every stack and the canary, rendered and scanned by one checkov run."""
    directory = tmp_path_factory.mktemp("benchmarks")
    for run in (*stack_runs.values(), canary(stack_runs["prod"])):
        render.write_stack(run, directory)
    return scan.run_checkov(directory)


@pytest.fixture(scope="module")
def shipped(findings) -> list[scan.Finding]:
    return [f for f in findings if f.stack != CANARY]


def test_every_aws_type_the_program_creates_is_rendered_for_checkov(stack_runs):
    types = {r.type for run in stack_runs.values() for r in render.scanned_aws(run)}
    assert types - set(render.TERRAFORM_TYPES) == set()


def test_every_stack_and_both_frameworks_were_scanned(findings, stack_runs):
    assert {f.stack for f in findings} >= set(stack_runs) | {CANARY}
    assert {f.framework for f in findings} == set(scan.FRAMEWORKS)


def test_every_finding_is_fixed_or_accepted_with_a_reason(shipped):
    open_findings = scan.unaccepted(shipped, scan.load_accepted())
    assert open_findings == [], "\n".join(
        f"{f.stack} {f.check_id} {f.resource}: {f.check_name} -> fix it in infra/ or accept it "
        "in infra/benchmarks/accepted.yaml" for f in open_findings)


def test_no_acceptance_outlives_its_finding(shipped):
    assert scan.unused(shipped, scan.load_accepted()) == []


def test_each_acceptance_gives_one_line_of_reason():
    for acceptance in scan.load_accepted():
        assert acceptance.check.startswith("CKV"), acceptance
        assert len(acceptance.reason) > 40 and "\n" not in acceptance.reason, acceptance


@pytest.mark.parametrize(("check", "resources"), sorted(FIXED.items()))
def test_the_canary_fails_what_the_program_fixed(findings, check, resources):
    failed = [f.resource for f in findings if f.stack == CANARY and f.check_id == check]
    assert any(scan.Acceptance(check, "-", resources=(resources,)).covers(
        scan.Finding(CANARY, "", check, "", r)) for r in failed), (check, failed)
    assert not [f for f in findings if f.stack == "prod" and f.check_id == check]


def test_an_acceptance_is_limited_to_its_stacks_and_resources():
    acceptance = scan.Acceptance("CKV_AWS_150", "why", ("dev",), ("aws_lb.*",))
    assert acceptance.covers(scan.Finding("dev", "terraform_plan", "CKV_AWS_150", "", "aws_lb.a"))
    assert not acceptance.covers(scan.Finding("prod", "terraform_plan", "CKV_AWS_150", "",
                                              "aws_lb.a"))
    assert not acceptance.covers(scan.Finding("dev", "terraform_plan", "CKV_AWS_150", "",
                                              "aws_alb.a"))
    assert not acceptance.covers(scan.Finding("dev", "terraform_plan", "CKV_AWS_91", "",
                                              "aws_lb.a"))
