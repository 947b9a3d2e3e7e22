"""Image rules: every container's image pinned by a release tag and by digest, pulled explicitly."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pulumi_policy import ResourceValidationArgs

from guardrails.pods import container_rule, pod_containers
from guardrails.props import Report, get, label
from guardrails.rules import resource_rule
from guardrails.settings import RuleSettings, setting

DIGEST_MARK = "@sha256:"


def _by_tag(container: Mapping, _spec: Mapping) -> str | None:
    image = str(get(container, "image", ""))
    return None if DIGEST_MARK in image else f"runs '{image}' by tag, not by digest"


def _pull_policy(container: Mapping, _spec: Mapping) -> str | None:
    policy = get(container, "imagePullPolicy")
    if policy is None:
        return "sets no imagePullPolicy, so Kubernetes picks one from the image's tag"
    if str(policy) == "Never":
        return "never pulls, so it runs whatever a node happens to hold"
    if str(policy) != "Always" and DIGEST_MARK not in str(get(container, "image", "")):
        return f"pulls {policy} by tag, so a node may keep an older image under that tag"
    return None


k8s_image_digest = container_rule(
    "k8s-image-digest",
    "Container images must be pinned by digest.",
    _by_tag,
    "Deploy <repository>:<tag>@sha256:<digest> (Registry.release_image resolves the pushed tag), "
    "so the bytes that run are the bytes ECR scanned.",
)
k8s_explicit_pull_policy = container_rule(
    "k8s-explicit-pull-policy",
    "Containers must set imagePullPolicy: Always, or IfNotPresent for an image by digest.",
    _pull_policy,
    "Set imagePullPolicy explicitly: IfNotPresent with an image by digest (what the program "
    "deploys), Always otherwise.",
)
def image_tag(image: str) -> str | None:
    """The tag of an image reference ("" for a digest), or None when it has neither."""
    if "@" in image:
        return ""
    last = image.rsplit("/", 1)[-1]  # a registry host:port has its colon before the last slash
    return last.split(":", 1)[1] if ":" in last else None


@dataclass(frozen=True)
class ImagePinned(RuleSettings):
    """The settings of k8s-image-pinned."""

    forbidden_tags: tuple[str, ...] = setting(("latest",), "Image tags that do not pin anything.")


@resource_rule(
    "k8s-image-pinned",
    "Container images must be pinned: no 'latest' tag and no untagged image.",
    ImagePinned,
)
def k8s_image_pinned(args: ResourceValidationArgs, report: Report) -> None:
    """Every image is pinned by a tag that is not ``latest`` (or by digest)."""
    forbidden = set(ImagePinned.read(args).forbidden_tags)
    for container in pod_containers(args):
        image = str(get(container, "image", ""))
        tag = image_tag(image)
        if tag is None or tag in forbidden:
            problem = "has no tag" if tag is None else f"uses the '{tag}' tag"
            report(
                f"Container '{get(container, 'name', '?')}' of {label(args)}: image '{image}' "
                f"{problem}, so what runs changes without a deploy. Pin an immutable release "
                "tag (the stack's imageTag) or a digest."
            )


