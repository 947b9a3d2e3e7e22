"""The pack against the real program: every shipped stack passes, broken stacks are caught.

Each stack runs once under Pulumi mocks (``infra.simulation.run_stack``) and goes through the
offline evaluator with its own ``policies/config/<stack>.json``. Broken stacks are made two
ways: settings a stack may choose come in through ``run_stack(config_overrides=...)``; things
the components hard-wire (encryption, DLQs, non-root containers) are broken by mutating a
deep copy of the simulated resources' inputs, as the engine would then receive them.
"""

import copy
import io

import pytest
from pulumi_policy import EnforcementLevel

from guardrails import offline
from guardrails.pack import POLICIES
from infra import simulation
from tests.policies.stacks import broken, shipped_run

MANDATORY = EnforcementLevel.MANDATORY


def check(run):
    settings = offline.stack_settings(run.stack)
    return offline.evaluate_run(run, settings, simulation.project_name())


def mandatory(violations):
    return {(v.policy, v.resource_name) for v in violations if v.level == MANDATORY}


def test_there_are_stacks_and_each_has_a_policy_config():
    stacks = simulation.stack_names()
    assert {"dev", "staging", "prod"} <= set(stacks)
    for stack in stacks:
        assert offline.config_path(stack).exists(), stack


@pytest.mark.parametrize("stack", simulation.stack_names())
def test_every_shipped_stack_has_no_mandatory_violation(stack):
    run = shipped_run(stack)
    assert len(run.resources) > 100  # the whole program ran, not an empty stack
    assert mandatory(check(run)) == set()


def test_prod_enforces_every_policy():
    settings = offline.stack_settings("prod")
    assert {p.name for p in POLICIES if settings[p.name].level != MANDATORY} == set()


def test_dev_reports_its_relaxed_rules_as_advisory_warnings():
    found = {(v.policy, v.level) for v in check(shipped_run("dev"))}
    assert ("aurora-deletion-protection", EnforcementLevel.ADVISORY) in found
    assert ("eks-public-endpoint-restricted", EnforcementLevel.ADVISORY) in found


def test_prod_settings_a_stack_may_choose_are_caught_when_unsafe():
    run = simulation.run_stack(
        "prod",
        {
            "dbDeletionProtection": False,
            "dbFinalSnapshot": False,
            "dbReaderCount": 1,
            "dbBackupRetentionDays": 7,
            "lbDeletionProtection": False,
        },
    )
    cluster = run.of_type("aws:rds/cluster:Cluster")[0].name
    nlb = run.of_type("aws:lb/loadBalancer:LoadBalancer")[0].name
    assert mandatory(check(run)) == {
        ("aurora-deletion-protection", cluster),
        ("aurora-multi-az-readers", cluster),
        ("aurora-backup-retention", cluster),
        ("nlb-deletion-protection", nlb),
    }


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_plain_api_listeners_fail_staging_and_prod(stack):
    run = simulation.run_stack(stack, {"apiTls": {"enabled": False}})
    listeners = {li.name for li in run.of_type("aws:lb/listener:Listener")}
    assert len(listeners) == 2
    assert mandatory(check(run)) == {("nlb-listener-tls", name) for name in listeners}


def test_dev_reports_its_plain_listeners_as_advisory():
    found = {(v.policy, v.level) for v in check(shipped_run("dev"))}
    assert ("nlb-listener-tls", EnforcementLevel.ADVISORY) in found


def test_a_staging_api_endpoint_open_to_the_world_is_caught():
    run = simulation.run_stack("staging", {"clusterPublicAccessCidrs": ["0.0.0.0/0"]})
    eks = run.of_type("aws:eks/cluster:Cluster")[0].name
    assert mandatory(check(run)) == {("eks-public-endpoint-restricted", eks)}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_an_unencrypted_cluster_a_queue_without_dlq_and_a_root_container_are_caught(stack):
    run, cluster, queue, deployment = broken(stack)
    dlq = next(q.name for q in run.of_type("aws:sqs/queue:Queue") if q.name == f"{queue.name}-dlq")
    found = mandatory(check(run))
    assert found == {
        ("aurora-storage-encrypted", cluster.name),
        ("sqs-queue-has-dlq", queue.name),
        ("eventbridge-targeted-queue-has-dlq", queue.name),
        # Its DLQ is now an orphan that nothing redrives to, and it has no redrive policy itself.
        ("sqs-queue-has-dlq", dlq),
        ("k8s-run-as-non-root", deployment.name),
        ("k8s-run-as-high-uid", deployment.name),  # UID 0
    }


def test_make_policy_prints_violations_by_resource_and_fails_on_mandatory(monkeypatch):
    run, cluster, *_ = broken("prod")
    monkeypatch.setattr(simulation, "run_stack", lambda stack, overrides=None: run)
    out = io.StringIO()
    assert offline.main(["--stack", "prod"], out=out) == 1
    report = out.getvalue()
    assert "[FAIL] stack prod" in report
    assert f"aws:rds/cluster:Cluster  {cluster.name}\n      {cluster.urn}\n" in report
    assert "- [mandatory]  aurora-storage-encrypted\n" in report
    assert "storageEncrypted unset or false" in report
    assert "policy: mandatory violations in prod" in report


def test_make_policy_passes_a_clean_stack(monkeypatch):
    monkeypatch.setattr(simulation, "run_stack", lambda stack, overrides=None: shipped_run(stack))
    out = io.StringIO()
    assert offline.main(["--stack", "prod", "--stack", "staging"], out=out) == 0
    assert "[ok] stack prod" in out.getvalue() and "[ok] stack staging" in out.getvalue()


def without_dlq_alarm(stack):
    """A shipped run minus the alarm on one queue's DLQ; returns (run, that DLQ)."""
    run = copy.deepcopy(shipped_run(stack))
    dlq = next(q for q in run.of_type("aws:sqs/queue:Queue") if q.name.endswith("-dlq"))
    run.resources = [
        r
        for r in run.resources
        if not (
            r.type == "aws:cloudwatch/metricAlarm:MetricAlarm"
            and (r.inputs.get("dimensions") or {}).get("QueueName") == dlq.outputs["name"]
        )
    ]
    return run, dlq


def test_the_dlq_alarm_rule_is_advisory_in_dev_and_mandatory_elsewhere():
    levels = {s: offline.stack_settings(s)["sqs-dlq-has-alarm"].level for s in ("dev", "staging")}
    assert levels == {"dev": EnforcementLevel.ADVISORY, "staging": MANDATORY}
    assert offline.stack_settings("prod")["sqs-dlq-has-alarm"].level == MANDATORY


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_a_dlq_without_its_alarm_blocks_staging_and_prod(stack):
    run, dlq = without_dlq_alarm(stack)
    assert mandatory(check(run)) == {("sqs-dlq-has-alarm", dlq.name),
                                     ("sqs-queue-has-widget-and-alarm", dlq.name)}


def test_a_dlq_without_its_alarm_is_a_warning_in_dev():
    run, dlq = without_dlq_alarm("dev")
    found = check(run)
    # Every queue needs an alarm in every stack; the threshold check is what dev relaxes.
    assert mandatory(found) == {("sqs-queue-has-widget-and-alarm", dlq.name)}
    assert ("sqs-dlq-has-alarm", EnforcementLevel.ADVISORY, dlq.name) in {
        (v.policy, v.level, v.resource_name) for v in found
    }


def test_prod_without_a_cache_replica_is_caught_and_staging_only_warns():
    prod = simulation.run_stack("prod", {"cacheReplicaCount": 0})
    group = prod.of_type("aws:elasticache/replicationGroup:ReplicationGroup")[0].name
    assert mandatory(check(prod)) == {("elasticache-automatic-failover", group)}
    staging = check(shipped_run("staging"))
    assert mandatory(staging) == set()
    assert ("elasticache-automatic-failover", EnforcementLevel.ADVISORY) in {
        (v.policy, v.level) for v in staging}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_a_cache_in_public_subnets_without_tls_or_auth_is_caught(stack):
    run = copy.deepcopy(shipped_run(stack))
    group = run.of_type("aws:elasticache/replicationGroup:ReplicationGroup")[0]
    subnet_group = run.of_type("aws:elasticache/subnetGroup:SubnetGroup")[0]
    public = [s.id for s in run.of_type("aws:ec2/subnet:Subnet")
              if s.inputs["tags"]["tier"] == "public"]
    for props in (subnet_group.inputs, subnet_group.outputs):
        props["subnetIds"] = public
    for props in (group.inputs, group.outputs):
        props.pop("authToken")
        props.update(transitEncryptionEnabled=False, atRestEncryptionEnabled=False)
    assert mandatory(check(run)) == {
        ("elasticache-private-subnets", group.name),
        ("elasticache-encryption-in-transit", group.name),
        ("elasticache-encryption-at-rest", group.name),
        ("elasticache-auth-required", group.name)}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_queue_left_off_the_dashboard_is_caught(stack):
    run = copy.deepcopy(shipped_run(stack))
    board = run.of_type("aws:cloudwatch/dashboard:Dashboard")[0]
    queue = next(q for q in run.of_type("aws:sqs/queue:Queue")
                 if q.outputs["name"].endswith("stock-validation"))
    body = board.inputs["dashboardBody"].replace(f'"{queue.outputs["name"]}"', '"elsewhere"')
    board.inputs["dashboardBody"] = board.outputs["dashboardBody"] = body
    assert mandatory(check(run)) == {("sqs-queue-has-widget-and-alarm", queue.name)}
