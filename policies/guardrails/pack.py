"""The policy pack's contents: its name, its default enforcement and every policy, in order."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, Policy

from guardrails import (
    alarms,
    aurora,
    eks,
    elasticache,
    messaging,
    monitoring,
    network,
    tags,
    workload_coverage,
    workloads,
)

PACK_NAME = "order-platform-guardrails"
PACK_DESCRIPTION = (
    "Guardrails for the order platform: Aurora, EKS, SQS, EventBridge, ElastiCache, monitoring, "
    "network and access, and the Kubernetes workloads."
)
DEFAULT_ENFORCEMENT = EnforcementLevel.MANDATORY
"""Every rule blocks unless the stack's policy config (policies/config/<stack>.json) relaxes it."""

POLICIES: list[Policy] = [
    *aurora.POLICIES,
    *eks.POLICIES,
    *messaging.POLICIES,
    *alarms.POLICIES,
    *monitoring.POLICIES,
    *elasticache.POLICIES,
    *network.POLICIES,
    *tags.POLICIES,
    *workloads.POLICIES,
    *workload_coverage.POLICIES,
]


def policy_names() -> list[str]:
    """The names of every policy in the pack, in order."""
    return [p.name for p in POLICIES]
