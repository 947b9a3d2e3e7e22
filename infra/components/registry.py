"""The ECR repository of the one service image."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.component import Component

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


class ImageNotPushedError(RuntimeError):
    """The stack's imageTag is not in its repository; the message says how to push it."""


@dataclass(frozen=True)
class RegistryArgs:
    """The repository name and whether destroy may delete it with its images."""

    repository_name: str
    force_delete: bool


class Registry(Component[RegistryArgs]):
    """An ECR repository: scan on push, immutable tags, a lifecycle policy."""

    repository_url: pulumi.Output[str]
    repository_arn: pulumi.Output[str]

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:registry:Registry", name, args, opts)
        self.repository = aws.ecr.Repository(
            f"{name}-repo", name=args.repository_name, image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS"}],
            force_delete=args.force_delete, opts=self._child)
        aws.ecr.LifecyclePolicy(f"{name}-lifecycle", repository=self.repository.name,
                                policy=LIFECYCLE_POLICY, opts=self._child)
        self.repository_url = self.repository.repository_url
        self.repository_arn = self.repository.arn
        self._repository_name = args.repository_name
        self.register_outputs({"repositoryUrl": self.repository_url})

    def release_image(self, tag: str) -> pulumi.Output[str] | None:
        """``<repository>:<tag>@sha256:...``: the bytes pushed (and scanned) under ``tag``.

        Pods pull by digest, so they can run nothing but that image, whatever happens to the
        tag. None while the repository does not exist yet (the first ``up`` of a stack creates
        it; push, then ``up`` again). A missing tag in an existing repository is an error,
        never a reason to deploy less.
        """
        invoke = pulumi.InvokeOptions(parent=self)
        if self._repository_name not in aws.ecr.get_repositories(opts=invoke).names:
            return None
        pushed = {image.image_tag: image.image_digest for image in aws.ecr.get_images(
            repository_name=self._repository_name, opts=invoke).image_ids if image.image_tag}
        if tag not in pushed:
            raise ImageNotPushedError(
                f"imageTag {tag!r} is not in ECR repository {self._repository_name}: build and "
                f"push it first (make image STACK=<stack> TAG={tag}), then run `up` again")
        digest = pushed[tag]
        return self.repository_url.apply(lambda url: f"{url}:{tag}@{digest}")
