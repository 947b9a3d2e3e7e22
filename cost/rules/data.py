"""Where data is kept: Aurora (instances, storage, I/O, backups), the cache, ECR, secrets, keys."""

from __future__ import annotations

from collections.abc import Iterator

from cost import assumptions as assume
from cost.context import Context
from cost.lines import Line
from cost.rules import GB, HOURS, rule
from infra.simulation import SimulatedResource


@rule("aws:rds/clusterInstance:ClusterInstance")
def _db_instance(r: SimulatedResource, c: Context) -> Iterator[Line]:
    instance_class = r.inputs["instanceClass"]
    yield c.line(r, f"Aurora PostgreSQL {instance_class}", HOURS, "instance-hour",
                 f"rds:aurora-postgresql-hour:{instance_class}")
    if r.inputs.get("monitoringInterval"):
        ingested = assume.ENHANCED_MONITORING_GB_PER_INSTANCE
        yield c.line(r, "Enhanced Monitoring logs ingested", ingested, "GB", "logs:ingest-gb")


@rule("aws:rds/cluster:Cluster")
def _db_storage(r: SimulatedResource, c: Context) -> Iterator[Line]:
    written = c.traffic.orders * assume.DB_BYTES_PER_ORDER / GB
    yield c.line(r, "Aurora storage (after a month of orders)", c.traffic.database_gb,
                 "GB-month", "rds:aurora-storage-gb-month")
    ios = (c.traffic.orders * assume.DB_IOS_PER_ORDER
           + assume.DB_BASELINE_IOPS * assume.SECONDS_PER_MONTH)
    yield c.line(r, "Aurora I/O requests", ios / 1e6, "million", "rds:aurora-io-million")
    # Backups up to the cluster's own size are free; what the retention window adds on top is
    # the data changed each day, kept for that many days.
    retention = int(r.inputs.get("backupRetentionPeriod") or 1)
    beyond_free = written / assume.DAYS_PER_MONTH * retention
    yield c.line(r, f"backup storage beyond the free allowance ({retention} days kept)",
                 beyond_free, "GB-month", "rds:aurora-backup-gb-month")
    if r.inputs.get("manageMasterUserPassword"):
        yield c.line(r, "RDS-managed master secret", 1, "secret-month",
                     "secretsmanager:secret-month")


@rule("aws:elasticache/replicationGroup:ReplicationGroup", "aws:elasticache/cluster:Cluster")
def _cache(r: SimulatedResource, c: Context) -> Iterator[Line]:
    node_type, engine = r.inputs["nodeType"], r.inputs.get("engine", "redis")
    nodes = int(r.inputs.get("numCacheClusters") or r.inputs.get("numCacheNodes") or 1)
    yield c.line(r, f"{nodes} x ElastiCache for {engine.capitalize()} {node_type}",
                 nodes * HOURS, "node-hour", f"elasticache:node-hour:{engine}:{node_type}")


@rule("aws:ecr/repository:Repository")
def _registry(r: SimulatedResource, c: Context) -> Iterator[Line]:
    stored = assume.IMAGES_KEPT * assume.IMAGE_GB
    yield c.line(r, f"{assume.IMAGES_KEPT} images stored", stored, "GB-month",
                 "ecr:storage-gb-month")


@rule("aws:secretsmanager/secret:Secret")
def _secret(r: SimulatedResource, c: Context) -> Iterator[Line]:
    yield c.line(r, "Secrets Manager secret", 1, "secret-month", "secretsmanager:secret-month")


@rule("aws:kms/key:Key")
def _key(r: SimulatedResource, c: Context) -> Iterator[Line]:
    yield c.line(r, "KMS customer-managed key", 1, "key-month", "kms:key-month")
