"""The ECR repository of the one service image."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

UNTAGGED_EXPIRY_DAYS = 7
TAGGED_IMAGES_KEPT = 100

LIFECYCLE_POLICY = json.dumps({"rules": [
    {"rulePriority": 1, "description": "Expire untagged images",
     "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                   "countUnit": "days", "countNumber": UNTAGGED_EXPIRY_DAYS},
     "action": {"type": "expire"}},
    {"rulePriority": 2, "description": "Keep the most recent images",
     "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                   "countNumber": TAGGED_IMAGES_KEPT},
     "action": {"type": "expire"}},
]})


@dataclass(frozen=True)
class RegistryArgs:
    """The repository name and whether destroy may delete it with its images."""

    repository_name: str
    force_delete: bool


class Registry(pulumi.ComponentResource):
    """An ECR repository: scan on push, immutable tags, a lifecycle policy."""

    repository_url: pulumi.Output[str]
    repository_arn: pulumi.Output[str]

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:registry:Registry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.repository = aws.ecr.Repository(
            f"{name}-repo", name=args.repository_name, image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS"}],
            force_delete=args.force_delete, opts=child)
        aws.ecr.LifecyclePolicy(f"{name}-lifecycle", repository=self.repository.name,
                                policy=LIFECYCLE_POLICY, opts=child)
        self.repository_url = self.repository.repository_url
        self.repository_arn = self.repository.arn
        self.register_outputs({"repositoryUrl": self.repository_url})
