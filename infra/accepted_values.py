"""Inputs AWS accepts only from a list, so that ``infra/config.py`` refuses the rest up front.

A value outside these lists passes the mocks and ``pulumi preview``, then fails half-way
through ``pulumi up``; checking them before anything is created keeps a stack whole. When AWS
adds a value (a new Kubernetes or PostgreSQL version, an instance class), add it here.
"""

from __future__ import annotations

import re

from infra.kubernetes_versions import RELEASES

LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)
"""CloudWatch Logs ``retentionInDays`` (PutRetentionPolicy refuses any other number)."""

KUBERNETES_VERSIONS = tuple(RELEASES)
"""EKS minor versions this program has pins for (``infra/kubernetes_versions.py``, with their
support windows); keep in step with the policy pack's ``eks-supported-version`` list and with
kubernetes-validate's schemas (tests/infra)."""

CLUSTER_SUPPORT_TYPES = ("STANDARD", "EXTENDED")
"""EKS ``upgradePolicy.supportType``: STANDARD is upgraded by AWS at the end of standard
support; EXTENDED stays on its version for a fee."""

AURORA_POSTGRESQL_MAJOR_VERSIONS = ("14", "15", "16", "17")
"""Aurora PostgreSQL majors; the minor is AWS's (automatic minor upgrades)."""


def aurora_parameter_family(major: str) -> str:
    """The cluster parameter-group family of an Aurora PostgreSQL major: derived, never set."""
    return f"aurora-postgresql{major}"

_AURORA_FAMILIES = {
    "db.t4g": ("medium", "large"),
    "db.r6g": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"),
    "db.r6i": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge",
               "24xlarge", "32xlarge"),
    "db.r7g": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"),
    "db.r7i": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge",
               "24xlarge", "48xlarge"),
    "db.r8g": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge",
               "24xlarge", "48xlarge"),
}
AURORA_POSTGRESQL_INSTANCE_CLASSES = tuple(
    f"{family}.{size}" for family, sizes in _AURORA_FAMILIES.items() for size in sizes)
"""Provisioned instance classes of Aurora PostgreSQL (``aws rds
describe-orderable-db-instance-options --engine aurora-postgresql`` lists them per version)."""

NODE_AMI_ALIAS = re.compile(r"al2023@v\d{8}")
"""Karpenter ``amiSelectorTerms[].alias`` for Amazon Linux 2023, one release: ``@latest`` would
move the nodes whenever AWS publishes an AMI, not when the stack changes."""

IAM_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")
"""An IAM role ARN, the only principal an access entry of ours names (never a session ARN)."""

CACHE_NODE_TYPES = ("cache.t4g.micro", "cache.t4g.small", "cache.t4g.medium", "cache.m7g.large",
                    "cache.m7g.xlarge", "cache.r7g.large", "cache.r7g.xlarge")
"""ElastiCache node types the product cache may run on: Graviton, Valkey-capable, priced in
``cost/prices.json`` (``aws elasticache describe-reserved-cache-nodes-offerings
--product-description valkey`` lists what a region offers)."""
