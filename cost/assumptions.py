"""What the estimate assumes where the program does not say: usage, traffic, utilisation.

Each number is a stated assumption, printed with the estimate's sources; change it here, once.
Request-priced lines scale with the stack's ``ordersPerSecond`` (an average over the month).
"""

from __future__ import annotations

HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600

POOL_UTILISATION = 0.5
"""Karpenter's workload nodes run, on average over the month, half of the NodePool's limit
(``nodePoolMaxNodes``), and never fewer than the HPA minima need. Karpenter launches the cheapest
instance type the NodePool allows."""

NAT_GB_PER_NODE = 20
"""Traffic through NAT per node and month: the EC2 API (Karpenter), OS and AMI updates, public
endpoints without a VPC endpoint. Images, queues, the bus, secrets and STS use VPC endpoints."""

REQUESTS_PER_ORDER = 3
"""HTTP requests through the NLB per order: the POST and two reads."""
BYTES_PER_REQUEST = 4096
"""Request plus response, headers included."""

ENDPOINT_BYTES_PER_MESSAGE = 8192
"""Through the SQS and EventBridge interface endpoints per message: send, receive, delete."""
ENDPOINT_BYTES_PER_EVENT = 4096
"""Through the EventBridge interface endpoint per event: the relay's PutEvents."""
SQS_REQUESTS_PER_MESSAGE = 3
"""SendMessage (by EventBridge), ReceiveMessage, DeleteMessage."""
SQS_IDLE_POLLS_PER_CONSUMER = SECONDS_PER_MONTH / 20
"""Each consumer long-polls its queue every 20 s whether or not there is work."""

DB_BASE_GB = 10
"""Aurora storage before the month's orders: catalogue, indexes, system tables."""
DB_BYTES_PER_ORDER = 4096
"""An order, its lines, its outbox row and processed-event rows, with indexes."""
BACKUP_COPIES_PER_MONTH = HOURS_PER_MONTH / 24
"""The backup plan copies one snapshot a day to the second region."""
# Each copy of an Aurora cluster snapshot to another region is a full copy of the volume (Aurora
# copies no increments), so the copies kept cost the volume times their number, and each day's
# copy crosses regions whole. The plan's snapshots in the stack's region are kept no longer than
# Aurora's automated backups and bill nothing beyond them (the free allowance of a cluster's
# backup storage is its volume); they are not priced.
DB_IOS_PER_ORDER = 12
"""Aurora storage I/Os per order (Aurora bills log writes in 4 KB units and reads that miss the
buffer cache): the order's rows and indexes, the relay's outbox update, the consumers' writes."""
DB_BASELINE_IOPS = 10
"""I/O of an idle cluster: checkpoints, statistics, replication to the readers."""

FLOW_LOG_GB_PER_NODE = 3
"""VPC flow-log records (60 s aggregation) per node and month."""
CONTROL_PLANE_LOG_GB = 15
"""EKS control-plane logs (api, audit, authenticator, controllerManager, scheduler) per month."""
POSTGRESQL_LOG_GB = 1
"""Aurora's postgresql log per month with the cluster's parameter group (slow statements, DDL)."""
ENHANCED_MONITORING_GB_PER_INSTANCE = 0.7
"""Enhanced Monitoring (60 s) writes RDSOSMetrics log events, billed as log ingestion."""
LOG_COMPRESSION = 0.15
"""CloudWatch Logs bills stored data compressed, at about this fraction of what was ingested."""

IMAGES_KEPT = 20
"""Service images in ECR at any time (the lifecycle policy allows up to 100)."""
IMAGE_GB = 0.15
"""One compressed service image (layers shared between releases are stored once)."""

EMF_GB_PER_POD = 0.5
"""EMF log events the collector writes per scraped pod and month (one a minute per label set the
exporter keeps: an API's routes x methods x statuses, and its latency bounds)."""
STATUS_CLASSES_SEEN = 3
"""Status classes an API answers in a month (2xx, 4xx, 5xx): each is a CloudWatch metric."""
FINAL_STATUSES = 2
"""CONFIRMED and REJECTED: each is a metric of the orders settled."""
TRACES_PER_ORDER = REQUESTS_PER_ORDER
"""Each request starts a trace (the order's POST carries on through the relay and the worker);
X-Ray bills the traces the collector keeps (traceSamplePercent)."""
