"""The database's backups outside its region: AWS Backup snapshots the Aurora cluster daily into
a vault here and copies each snapshot to a vault in a second region, every vault encrypted with
a KMS key of its own region.

Aurora's automated backups (``dbBackupRetentionDays``) stay what a point-in-time restore uses
(docs/operations.md, "Restoring the database"); they live in the stack's region, with its keys.
The copies are for the day that region, or the account's keys in it, cannot be used: a cluster
restored from the newest copy loses what was written after it (up to a day).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import iam, kms
from infra.components.component import Component

SCHEDULE = "cron(0 5 * * ? *)"
"""05:00 UTC every day: after Aurora's backup window (02:00-03:00) and Sunday's maintenance
window (03:30-04:30), so the snapshot never waits on either."""
START_WINDOW_MINUTES = 60
COMPLETION_WINDOW_MINUTES = 480
SERVICE_ROLE_POLICY = "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"


@dataclass(frozen=True)
class BackupArgs:
    """What is backed up, where the copies go and how long each is kept."""

    prefix: str
    cluster_arn: pulumi.Input[str]
    copy_region: str
    retention_days: int
    """Snapshots kept in the stack's region (as long as Aurora's own backups)."""
    copy_retention_days: int
    """Copies kept in ``copy_region``."""
    tags: dict[str, str]
    """The stack's default tags, for the second region's provider."""


class Backup(Component[BackupArgs]):
    """A backup plan for the Aurora cluster with a copy action to a vault in another region."""

    vault_arn: pulumi.Output[str]
    copy_vault_arn: pulumi.Output[str]
    plan_id: pulumi.Output[str]

    def __init__(self, name: str, args: BackupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:backup:Backup", name, args, opts)
        there = aws.Provider(f"{name}-copy-region", region=args.copy_region,
                             default_tags={"tags": args.tags}, opts=self._child)
        vault = self._vault("backup", f"{args.prefix}-db", self._child)
        copies = self._vault("backup-copy", f"{args.prefix}-db-copy",
                             pulumi.ResourceOptions(parent=self, provider=there))
        plan = aws.backup.Plan(
            f"{name}-backup-plan", name=f"{args.prefix}-db",
            rules=[{"rule_name": "daily-with-copy", "target_vault_name": vault.name,
                    "schedule": SCHEDULE, "start_window": START_WINDOW_MINUTES,
                    "completion_window": COMPLETION_WINDOW_MINUTES,
                    "lifecycle": {"delete_after": args.retention_days},
                    "copy_actions": [{"destination_vault_arn": copies.arn,
                                      "lifecycle": {"delete_after": args.copy_retention_days}}]}],
            opts=self._child)
        self._select(plan, args.cluster_arn)
        self.vault_arn = vault.arn
        self.copy_vault_arn = copies.arn
        self.plan_id = plan.id
        self.register_outputs({"vaultArn": self.vault_arn, "copyVaultArn": self.copy_vault_arn})

    def _vault(self, logical: str, vault_name: str,
               opts: pulumi.ResourceOptions) -> aws.backup.Vault:
        """A vault and the key that encrypts it, both in the region ``opts`` point at."""
        key = kms.aliased_key(f"{self._name}-{logical}-key", f"AWS Backup vault {vault_name}",
                              vault_name, opts)
        return aws.backup.Vault(f"{self._name}-{logical}-vault", name=vault_name,
                                kms_key_arn=key.arn, opts=opts)

    def _select(self, plan: aws.backup.Plan, cluster_arn: pulumi.Input[str]) -> None:
        role = aws.iam.Role(f"{self._name}-backup-role", name=f"{self._args.prefix}-backup",
                            description="AWS Backup: snapshot and copy the Aurora cluster",
                            assume_role_policy=iam.service_trust_policy("backup.amazonaws.com"),
                            opts=self._child)
        grant = aws.iam.RolePolicyAttachment(f"{self._name}-backup-role", role=role.name,
                                             policy_arn=SERVICE_ROLE_POLICY, opts=self._child)
        aws.backup.Selection(f"{self._name}-backup-selection", name=f"{self._args.prefix}-db",
                             plan_id=plan.id, iam_role_arn=role.arn, resources=[cluster_arn],
                             opts=pulumi.ResourceOptions(parent=self, depends_on=[grant]))
