"""The required-tags rule: every taggable AWS resource carries the cost and ownership tags.

Tags normally come from the AWS provider's ``defaultTags`` (one place, every resource), so a
resource's effective tags are its provider's default tags overlaid with its own ``tags``.
Which types are taggable comes from ``aws_taggable_types.txt``, generated from the installed
pulumi-aws SDK by ``python -m guardrails.tags > policies/guardrails/aws_taggable_types.txt``;
the policy tests check it against the SDK and the program.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pulumi_policy import ResourceValidationArgs

from guardrails.props import Report, get, json_value, label
from guardrails.rules import resource_rule
from guardrails.settings import RuleSettings, setting

TAGGABLE_TYPES_FILE = Path(__file__).with_name("aws_taggable_types.txt")


@cache
def taggable_types() -> frozenset[str]:
    """AWS type tokens whose resources accept ``tags`` (and so the provider's default tags)."""
    lines = TAGGABLE_TYPES_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _as_dict(tags: object) -> dict[str, str]:
    """Tags as a plain dict (the ``tags`` map shape; list-shaped tags are ignored)."""
    return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, Mapping) else {}


def default_tags(provider_props: Mapping | None) -> dict[str, str]:
    """The provider's default tags; the engine sends provider objects as JSON strings."""
    if not provider_props:
        return {}
    return _as_dict(get(json_value(get(provider_props, "defaultTags")), "tags"))


def effective_tags(args: ResourceValidationArgs) -> dict[str, str]:
    """The tags AWS will put on the resource: provider defaults, then its own."""
    provider = args.provider.props if args.provider is not None else None
    return {**default_tags(provider), **_as_dict(get(args.props, "tags"))}


@dataclass(frozen=True)
class RequiredTags(RuleSettings):
    """The settings of required-tags."""

    required_tags: tuple[str, ...] = setting(
        ("environment", "owner", "cost-center"),
        "Tag keys every taggable resource must have (non-empty).")


@resource_rule(
    "required-tags",
    "Every taggable AWS resource must carry the required tags.",
    RequiredTags,
)
def required_tags(args: ResourceValidationArgs, report: Report) -> None:
    """Every configured tag is present with a non-empty value."""
    if args.resource_type not in taggable_types():
        return
    tags = effective_tags(args)
    missing = [t for t in RequiredTags.read(args).required_tags if not tags.get(t)]
    if missing:
        report(
            f"{args.resource_type.rsplit(':', 1)[-1]} {label(args)} is missing the tag(s) "
            f"{', '.join(missing)}. Set them once in the AWS provider's default_tags (from stack "
            "config) rather than on each resource."
        )


POLICIES = [required_tags]


def generate_taggable_types(sdk_root: Path) -> list[str]:
    """Type tokens of pulumi-aws resources whose Args class has a ``tags`` property."""
    found = []
    for source in sorted(sdk_root.rglob("*.py")):
        text = source.read_text(encoding="utf-8")
        token = re.search(r"super\(\w+, __self__\)\.__init__\(\s*'(aws:[^']+)'", text)
        args = re.search(
            r"@pulumi\.input_type\nclass \w+Args:.*?(?=\n@pulumi\.input_type|\nclass )", text, re.S
        )
        if token and args and re.search(r"def tags\(self\)", args.group(0)):
            found.append(token.group(1))
    return sorted(set(found))


def main() -> None:
    """Print the taggable-types file for the installed pulumi-aws."""
    import pulumi_aws

    version = getattr(pulumi_aws, "__version__", "") or _sdk_version()
    print(f"# AWS resource types that accept tags; generated from pulumi-aws {version}.")
    print("\n".join(generate_taggable_types(Path(pulumi_aws.__file__).parent)))


def _sdk_version() -> str:
    from importlib.metadata import version

    return version("pulumi-aws")


if __name__ == "__main__":
    main()
