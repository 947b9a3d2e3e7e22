"""Per-environment shape: subnets per AZ, NAT gateways, readers, protection, retention."""

from __future__ import annotations

from collections import Counter

from tests.infra.helpers import config_value, one, prefix

SUBNET = "aws:ec2/subnet:Subnet"
TIERS = ("public", "private", "isolated")


def test_each_az_has_one_subnet_per_tier(run):
    subnets = run.of_type(SUBNET)
    per_az = Counter((s.inputs["availabilityZone"], s.inputs["tags"]["tier"]) for s in subnets)
    zones = {s.inputs["availabilityZone"] for s in subnets}
    assert len(zones) == config_value(run, "azCount") == 3
    assert per_az == Counter({(zone, tier): 1 for zone in zones for tier in TIERS})


def test_nat_gateways_follow_the_strategy(run, stack_file):
    nats = run.of_type("aws:ec2/natGateway:NatGateway")
    expected = 1 if stack_file["natStrategy"] == "single" else 3
    assert len(nats) == expected
    public_ids = {s.id for s in run.of_type(SUBNET) if s.inputs["tags"]["tier"] == "public"}
    assert {n.inputs["subnetId"] for n in nats} <= public_ids


def test_nat_strategy_per_environment(stack_runs):
    counts = {stack: len(r.of_type("aws:ec2/natGateway:NatGateway"))
              for stack, r in stack_runs.items()}
    assert counts["dev"] == 1
    assert counts["prod"] == 3


def test_private_subnets_route_through_nat_and_isolated_have_no_default_route(run):
    routes = run.of_type("aws:ec2/route:Route")
    tables = {t.id: t for t in run.of_type("aws:ec2/routeTable:RouteTable")}
    for route in routes:
        table = tables[route.inputs["routeTableId"]]
        assert "isolated" not in table.name, "an isolated subnet must have no route out"
    private = [r for r in routes if "private" in tables[r.inputs["routeTableId"]].name]
    assert len(private) == 3
    assert all("natGatewayId" in r.inputs for r in private)


def test_reader_count_and_spread(run, stack_file):
    instances = run.of_type("aws:rds/clusterInstance:ClusterInstance")
    writers = [i for i in instances if i.inputs["promotionTier"] == 0]
    readers = [i for i in instances if i.inputs["promotionTier"] != 0]
    assert len(writers) == 1
    assert len(readers) == stack_file["dbReaderCount"]
    zones = [i.inputs["availabilityZone"] for i in instances]
    assert len(set(zones)) == len(zones), "writer and readers must sit in different AZs"


def test_prod_has_two_readers_across_azs(stack_runs):
    readers = [i for i in stack_runs["prod"].of_type("aws:rds/clusterInstance:ClusterInstance")
               if i.inputs["promotionTier"] != 0]
    assert len(readers) >= 2
    assert len({r.inputs["availabilityZone"] for r in readers}) == len(readers)


def test_deletion_protection_and_final_snapshot(run, stack_file):
    db = one(run, "aws:rds/cluster:Cluster")
    lb = one(run, "aws:lb/loadBalancer:LoadBalancer")
    assert db.inputs["deletionProtection"] is stack_file["dbDeletionProtection"]
    assert lb.inputs["enableDeletionProtection"] is stack_file["lbDeletionProtection"]
    if stack_file["dbFinalSnapshot"]:
        assert db.inputs["skipFinalSnapshot"] is False
        # Unique per cluster (tests/infra/test_reserved_names.py says why).
        assert db.inputs["finalSnapshotIdentifier"].startswith(f"{prefix(run)}-db-final-")
    else:
        assert db.inputs["skipFinalSnapshot"] is True


def test_prod_is_protected_and_dev_is_disposable(stack_runs):
    prod, dev = stack_runs["prod"], stack_runs["dev"]
    assert one(prod, "aws:rds/cluster:Cluster").inputs["deletionProtection"] is True
    assert one(prod, "aws:lb/loadBalancer:LoadBalancer").inputs["enableDeletionProtection"] is True
    assert one(dev, "aws:rds/cluster:Cluster").inputs["deletionProtection"] is False
    assert one(dev, "aws:ecr/repository:Repository").inputs["forceDelete"] is True


def test_retention(run, stack_file):
    db = one(run, "aws:rds/cluster:Cluster")
    assert db.inputs["backupRetentionPeriod"] == stack_file["dbBackupRetentionDays"]
    groups = run.of_type("aws:cloudwatch/logGroup:LogGroup")
    names = {g.inputs["name"] for g in groups}
    collector = {f"/{prefix(run)}/metrics"} if config_value(run, "collectorEnabled") else set()
    assert names == {f"/vpc/{prefix(run)}/flow-logs", f"/aws/eks/{prefix(run)}/cluster",
                     f"/aws/rds/cluster/{prefix(run)}-db/postgresql", *collector}
    assert {g.inputs["retentionInDays"] for g in groups} == {stack_file["logRetentionDays"]}


def test_retention_grows_towards_prod(stack_runs):
    def retention(stack):
        return one(stack_runs[stack], "aws:rds/cluster:Cluster").inputs["backupRetentionPeriod"]
    assert retention("dev") < retention("staging") < retention("prod")


def test_system_node_group_size_and_types(run, stack_file):
    group = one(run, "aws:eks/nodeGroup:NodeGroup")
    assert group.inputs["instanceTypes"] == stack_file["systemNodeInstanceTypes"]
    assert group.inputs["scalingConfig"] == {"minSize": stack_file["systemNodeMinSize"],
                                             "desiredSize": stack_file["systemNodeDesiredSize"],
                                             "maxSize": stack_file["systemNodeMaxSize"]}


def test_overrides_change_the_shape(stack_runs):
    from infra.simulation import run_stack
    changed = run_stack("dev", {"natStrategy": "per-az", "dbReaderCount": 2})
    assert len(changed.of_type("aws:ec2/natGateway:NatGateway")) == 3
    assert len(changed.of_type("aws:rds/clusterInstance:ClusterInstance")) == 3
    assert len(stack_runs["dev"].of_type("aws:ec2/natGateway:NatGateway")) == 1
