"""The Pulumi internals the simulation and the policy engine need still behave as they did.

Each test drives one internal of ``infra/pulumi_internals.py`` through a tiny program or
policy and fails with a message naming the pinned versions when an SDK upgrade changes it.
"""

from __future__ import annotations

import re
import tomllib
from contextlib import contextmanager

import pulumi
import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
)

from infra import pulumi_internals
from infra.simulation import REPO_ROOT


@contextmanager
def internal(what: str):
    """Turn any failure inside into one that says which internal broke and what to do."""
    try:
        yield
    except Exception as error:  # an upgrade can break these in any way
        pytest.fail(pulumi_internals.pin_message(f"{what}: {error!r}"), pytrace=False)


class EchoMocks(pulumi.runtime.Mocks):
    """State is the inputs plus an id; no invokes."""

    def new_resource(self, args):
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args):
        return {}


def tiny_program():
    first = pulumi.CustomResource("test:index:Thing", "first", {"size": 3})
    pulumi.CustomResource(
        "test:index:Thing", "second", {"size": first.id, "secret": pulumi.Output.secret("s3")},
        pulumi.ResourceOptions(depends_on=[first], ignore_changes=["size"],
                               aliases=[pulumi.Alias(name="former")],
                               replace_on_changes=["secret"], delete_before_replace=True,
                               custom_timeouts=pulumi.CustomTimeouts(create="20m")))
    pulumi.export("firstId", first.id)
    pulumi.export("hidden", pulumi.Output.secret("value"))


def run_tiny() -> tuple[dict, pulumi_internals.ProgramResult]:
    seen: dict[str, pulumi_internals.Registration] = {}
    result = pulumi_internals.run_program(
        tiny_program, mocks=EchoMocks(), on_register=lambda r: seen.__setitem__(r.name, r),
        config={"proj:key": "value"}, project="proj", stack="guard")
    return seen, result


def test_the_pinned_versions_are_the_ones_pyproject_installs():
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["infra"]
    for package, minor in pulumi_internals.PINNED.items():
        assert f"{package}~={minor}.0" in extras, pulumi_internals.pin_message(
            f"pyproject.toml no longer pins {package}~={minor}.0")
        installed = pulumi_internals.installed_versions()[package]
        assert re.match(rf"{re.escape(minor)}\.\d+$", installed), pulumi_internals.pin_message(
            f"{package} {installed} is installed")


def test_a_program_runs_under_mocks_and_every_registration_is_reported():
    with internal("run_program / the recording MockMonitor"):
        seen, _ = run_tiny()
        assert set(seen) == {"first", "second"}
        first = seen["first"]
        assert first.urn.startswith("urn:pulumi:guard::proj::")
        assert first.urn.endswith("test:index:Thing::first")
        assert first.id == "first-id" and first.custom
        assert first.inputs == {"size": 3} and first.outputs["size"] == 3
        assert first.parent == "urn:pulumi:guard::proj::pulumi:pulumi:Stack::proj-guard"


def test_what_the_engine_is_told_about_options_is_reported():
    with internal("RegisterResourceRequest fields (dependencies and options)"):
        seen, _ = run_tiny()
        second = seen["second"]
        assert second.dependencies == (seen["first"].urn,)
        assert second.ignore_changes == ("size",)
        assert second.replace_on_changes == ("secret",)
        assert second.delete_before_replace is True
        assert second.custom_timeouts == {"create": "20m"}
        assert second.aliases == ("former",)
        assert seen["first"].delete_before_replace is None
        assert pulumi_internals.unwrap_secrets(second.inputs["secret"]) == "s3"


def test_stack_outputs_are_resolved_with_their_secrecy():
    with internal("stack outputs of the root Stack resource"):
        _, result = run_tiny()
        assert result.outputs == {"firstId": "first-id", "hidden": "value"}
        assert result.secret == {"hidden"}


def test_runs_are_independent():
    with internal("a fresh root Stack per run"):
        run_tiny()
        seen, result = run_tiny()
        assert len(seen) == 2 and set(result.outputs) == {"firstId", "hidden"}


def test_analyzer_props_decode_like_the_policy_engine():
    with internal("pulumi_policy deserialize_properties / unknown_checking_proxy"):
        secret = {pulumi_internals.SECRET_SIG_KEY: pulumi_internals.SECRET_SIG, "value": "x"}
        props = pulumi_internals.analyzer_props({"count": 2, "nested": {"secret": secret},
                                                 "later": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"})
        assert props["count"] == 2 and not isinstance(props["nested"], dict)
        assert props["nested"]["secret"] == "x"
        with pytest.raises(pulumi_internals.unknown_value_error()):
            props["later"]


def test_not_applicable_is_the_exception_the_analyzer_skips_on():
    with internal("pulumi_policy _NotApplicableError"):
        options = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [],
                                        None)
        args = ResourceValidationArgs("test:index:Thing", {}, "urn", "thing", options, None,
                                      {}, {})
        with pytest.raises(pulumi_internals.not_applicable_error()):
            args.not_applicable("not for this resource")
