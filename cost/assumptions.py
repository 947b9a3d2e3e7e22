"""What the estimate assumes where the program does not say: usage, traffic, utilisation.

Each number is a stated assumption, printed with the estimate's sources; change it here, once.
Request-priced lines scale with the stack's ``ordersPerSecond`` (an average over the month).
"""

from __future__ import annotations

HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
DAYS_PER_MONTH = HOURS_PER_MONTH / 24

# Karpenter's nodes are not assumed: they hold the pods the HPAs run at ordersPerSecond (the
# capacity model, at least their minima), packed first-fit, one per zone a Deployment spreads
# over, on the cheapest type the NodePool allows (cost/context.py).

NAT_GB_PER_NODE = 20
"""Traffic through NAT per node and month: the EC2 API (Karpenter), OS and AMI updates, public
endpoints without a VPC endpoint. Images, queues, the bus, secrets and STS use VPC endpoints."""
NAT_INTERNET_OUT_SHARE = 0.1
"""Of the NAT traffic, what goes out (requests, uploads); the rest comes in, which is free."""

REQUESTS_PER_ORDER = 3
"""HTTP requests through the NLB per order: the POST and two reads."""
BYTES_PER_REQUEST = 4096
"""Request plus response, headers included."""
RESPONSE_BYTES = 2048
"""Of that, the response: what leaves AWS for the client (internet egress)."""
DB_WIRE_BYTES_PER_ORDER = 32768
"""Statements and results between the pods and Aurora per order: the API's transaction, the
relay's claim and update, the worker's three handlers (each crossing zones like any hop)."""
ADMIN_EVENTS_PER_MONTH = 10_000
"""Catalogue events (ProductCreated, ProductRestocked): administrators, not orders."""

ENDPOINT_BYTES_PER_MESSAGE = 8192
"""Through the SQS and EventBridge interface endpoints per message: send, receive, delete."""
ENDPOINT_BYTES_PER_EVENT = 4096
"""Through the EventBridge interface endpoint per event: the relay's PutEvents."""

DB_BASE_GB = 10
"""Aurora storage before the month's orders: catalogue, indexes, system tables."""
DB_BYTES_PER_ORDER = 4096
"""An order, its lines, its outbox row and processed-event rows, with indexes: also what the
backups keep per order for each day of their retention."""
# Each copy of an Aurora cluster snapshot to another region (the backup plan's copy action, one a
# day) is a full copy of the volume: Aurora copies no increments. So the copies kept cost the
# volume times their number, and each day's copy crosses regions whole.
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
