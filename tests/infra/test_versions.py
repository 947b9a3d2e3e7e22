"""Nothing floats, and no stack runs a Kubernetes version past its support.

An unchanged `up` must change nothing: every version the program deploys is pinned in the
table of ``infra/kubernetes_versions.py`` (per Kubernetes minor) or in code, and the program
asks the cloud only what must come from it (``TIME_DEPENDENT_INVOKES``). Support windows are
judged as of the suite's pinned day (``tests/conftest.TODAY``), so these pass or fail the same
way on every day; a real `up` judges them on the real date.
"""

from __future__ import annotations

from datetime import date, timedelta

import kubernetes_validate
import pytest

from infra import kubernetes_versions as versions
from infra.components import cluster, collector
from infra.config import StackConfigError
from infra.simulation import REPO_ROOT, read_yaml, run_stack
from tests.conftest import TODAY
from tests.infra.helpers import config_value, one

TIME_DEPENDENT_INVOKES = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": "the zones of the region",
    "aws:index/getCallerIdentity:getCallerIdentity": "who runs the program",
    "aws:iam/getSessionContext:getSessionContext": "the role behind that session",
    "aws:ecr/getRepositories:getRepositories": "whether the image repository exists yet",
    "aws:ecr/getImages:getImages": "the digest of imageTag",
    "aws:rds/getClusters:getClusters": "whether the Aurora cluster exists yet",
    "aws:rds/getCluster:getCluster": "the major it runs (its minor, which AWS moves, is unused)",
    "aws:eks/getClusters:getClusters": "whether the EKS cluster exists yet",
    "aws:eks/getCluster:getCluster": "the minor it runs (AWS moves it past its support: caught)",
}
"""The only invokes whose answer may change between two runs, and what they tell."""
DEPLOYED_ADDONS = (*cluster.NETWORK_ADDONS, *cluster.NODE_ADDONS, *collector.ADDONS)


def test_the_program_asks_the_cloud_nothing_that_moves_by_itself(run):
    asked = {invocation.token for invocation in run.invocations}
    floating = sorted(asked - set(TIME_DEPENDENT_INVOKES))
    assert not floating, (f"{floating} answer differently as AWS publishes: pin the value in "
                          "infra/kubernetes_versions.py (or say in TIME_DEPENDENT_INVOKES why "
                          "it must be asked)")
    assert "aws:index/getAvailabilityZones:getAvailabilityZones" in asked  # the record works


def test_every_deployed_version_is_the_pinned_one(run):
    pinned = versions.release(config_value(run, "kubernetesVersion"))
    assert one(run, "aws:eks/cluster:Cluster").inputs["version"] == pinned.version
    assert one(run, "aws:eks/nodeGroup:NodeGroup").inputs["releaseVersion"] == \
        pinned.node_ami_release
    for addon in run.of_type("aws:eks/addon:Addon"):
        assert addon.inputs["addonVersion"] == pinned.addons[addon.inputs["addonName"]]
    for release in run.of_type("kubernetes:helm.sh/v3:Release"):
        assert release.inputs["version"] == pinned.karpenter_chart
    (term,) = one(run, "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass").inputs["spec"][
        "amiSelectorTerms"]
    assert term == {"alias": pinned.karpenter_ami_alias}
    assert one(run, "aws:rds/cluster:Cluster").inputs["engineVersion"].isdigit()
    for group in run.of_type("aws:elasticache/replicationGroup:ReplicationGroup"):
        assert group.inputs["engineVersion"] == "8.0"


def test_the_table_pins_everything_for_every_minor():
    for version, pinned in versions.RELEASES.items():
        assert set(pinned.addons) == set(DEPLOYED_ADDONS), version
        assert all(v.startswith("v") and "eksbuild" in v for v in pinned.addons.values())
        assert pinned.node_ami_release.startswith(f"{version}.")
        # The managed nodes and Karpenter's run the same AMI release.
        assert pinned.karpenter_ami_alias == "al2023@v" + pinned.node_ami_release.split("-")[1]
        assert pinned.end_of_extended_support == pinned.end_of_standard_support.replace(
            year=pinned.end_of_standard_support.year + 1), version
        assert f"{version}.0" in kubernetes_validate.utils.all_versions(), version
    minors = [int(v.split(".")[1]) for v in versions.RELEASES]
    assert minors == list(range(minors[0], minors[-1] + 1)), "one minor at a time needs each"


def test_the_default_version_has_six_months_of_standard_support_left():
    default = read_yaml(REPO_ROOT / "Pulumi.yaml")["config"]["kubernetesVersion"]["default"]
    assert default == versions.DEFAULT_VERSION
    end = versions.release(default).end_of_standard_support
    assert end - TODAY >= timedelta(days=183), f"{default} leaves standard support on {end}"


def test_every_stack_is_in_support_with_nothing_to_warn_about(run):
    version, support = config_value(run, "kubernetesVersion"), config_value(
        run, "clusterSupportType")
    assert versions.support_problems(version, support, TODAY) == []
    assert versions.support_warnings(version, support, TODAY) == []


@pytest.mark.parametrize(("version", "support", "day", "refused", "warned"), [
    ("1.34", "STANDARD", TODAY, True, False),          # left standard support on 2026-12-02
    ("1.34", "EXTENDED", TODAY, False, True),          # allowed, at the extended price
    ("1.33", "STANDARD", TODAY, True, False),
    ("1.35", "STANDARD", date(2027, 1, 25), False, False),   # 61 days left
    ("1.35", "STANDARD", date(2027, 1, 26), False, True),    # 60 days left
    ("1.35", "STANDARD", date(2027, 3, 27), True, False),    # the day it ends
    ("1.35", "EXTENDED", date(2028, 3, 27), True, False),
    ("1.32", "EXTENDED", TODAY, True, False),          # no longer in the table at all
])
def test_support_windows(version, support, day, refused, warned):
    assert bool(versions.support_problems(version, support, day)) is refused
    assert bool(versions.support_warnings(version, support, day)) is warned


def test_a_version_past_its_support_is_refused_before_anything_is_created():
    with pytest.raises(StackConfigError, match="left EKS standard support on 2026-12-02"):
        run_stack("dev", {"kubernetesVersion": "1.34"})
    extended = run_stack("dev", {"kubernetesVersion": "1.34", "clusterSupportType": "EXTENDED"},
                         clusters={"order-platform-dev": "1.34"})
    assert one(extended, "aws:eks/cluster:Cluster").inputs["version"] == "1.34"


def test_a_pinned_day_ends_with_its_block():
    with versions.pinned_today(date(2030, 1, 1)):
        assert versions.today() == date(2030, 1, 1)
    assert versions.today() == TODAY  # the suite's own pin, restored


@pytest.mark.parametrize(("running", "wanted", "refusal"), [
    ("1.34", "1.36", "EKS upgrades one minor at a time; set 1.35"),
    ("1.36", "1.35", "EKS cannot downgrade, set kubernetesVersion 1.36"),  # AWS upgraded it
])
def test_a_move_eks_would_refuse_half_way_is_refused_before_anything_is_created(
        running, wanted, refusal):
    with pytest.raises(StackConfigError, match=refusal):
        run_stack("dev", {"kubernetesVersion": wanted, "clusterSupportType": "EXTENDED"},
                  clusters={"order-platform-dev": running})


def test_one_minor_up_and_a_new_cluster_on_any_version_are_accepted():
    up_one = run_stack("dev", {"kubernetesVersion": "1.36"},
                       clusters={"order-platform-dev": "1.35"})
    assert one(up_one, "aws:eks/cluster:Cluster").inputs["version"] == "1.36"
    fresh = run_stack("dev", {"kubernetesVersion": "1.35"}, clusters={})
    assert one(fresh, "aws:eks/cluster:Cluster").inputs["version"] == "1.35"
