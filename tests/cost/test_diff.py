"""Estimates compared: against another stack, and against the program at a git ref."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from cost import report, sources
from cost.__main__ import main
from cost.estimate import estimate
from cost.prices import load_prices
from infra.simulation import REPO_ROOT, typed_config
from tests.policies.stacks import shipped_run

PRICES = load_prices()


def estimate_of(run):
    return estimate(run, typed_config(run), PRICES)


def test_a_stack_against_itself_changes_nothing():
    prod = estimate_of(shipped_run("prod"))
    assert report.changes(prod, prod) == []
    text = report.difference(prod, prod, "prod")
    assert "no line changes" in text and "(+0.00, +0.0%)" in text


def test_stacks_pair_their_resources_without_the_stack_prefix():
    prod, staging = estimate_of(shipped_run("prod")), estimate_of(shipped_run("staging"))
    found = {(mark, resource, kind) for mark, resource, kind, *_ in (
        (c[0], c[1], c[2]) for c in report.changes(prod, staging))}
    marks = {(mark, resource) for mark, resource, _ in found}
    assert ("+", "reader-2") in marks  # prod has two readers, staging one
    assert ("+", "nat-eu-west-1b") in marks  # per-AZ NAT in prod
    assert ("~", "writer") in marks  # db.r6g.xlarge against db.r6g.large
    assert not [m for m in marks if m[0] == "-"]  # staging has nothing prod lacks
    text = report.difference(prod, staging, "staging")
    assert text.splitlines()[-1] == (
        f"total: {staging.total:,.2f} -> {prod.total:,.2f} ({prod.total - staging.total:+,.2f}, "
        f"{(prod.total - staging.total) / staging.total:+.1%})")


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A repository with this checkout's program, then one commit that adds a prod reader."""
    repo = tmp_path_factory.mktemp("history")
    for path in ("infra", "services", "Pulumi.yaml", "Pulumi.prod.yaml"):
        source = REPO_ROOT / path
        copy = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, repo / path, **({"ignore": shutil.ignore_patterns("__pycache__", "*.egg-info")}
                                     if source.is_dir() else {}))
    git = ["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "as shipped"], check=True)
    stack_file = repo / "Pulumi.prod.yaml"
    config = yaml.safe_load(stack_file.read_text())
    readers = config["config"]["order-platform:dbReaderCount"]
    config["config"]["order-platform:dbReaderCount"] = readers + 1
    stack_file.write_text(yaml.safe_dump(config))
    subprocess.run([*git, "commit", "-q", "-am", "one more reader"], check=True)
    return repo, readers


def test_the_program_at_a_git_ref_is_simulated_and_priced_with_todays_table(history):
    repo, readers = history
    # HEAD~1 is this checkout's program and stack file; HEAD adds one reader.
    before = estimate_of(shipped_run("prod"))
    after = estimate_of(sources.at_ref("prod", "HEAD", repo))
    assert {(c[0], c[1]) for c in report.changes(after, before)} == {
        ("+", f"reader-{readers + 1}")}


def test_a_ref_without_the_program_is_refused_with_the_reason(history):
    repo, _ = history
    with pytest.raises(sources.SourceError, match="no-such-ref"):
        sources.at_ref("prod", "no-such-ref", repo)


def test_the_command_prints_the_estimate_and_the_difference(capsys):
    assert main(["staging", "--diff", "dev"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("staging: monthly estimate in USD")
    assert "staging against dev: monthly USD" in out
    assert main(["nowhere"]) == 2
    assert "no Pulumi.nowhere.yaml" in capsys.readouterr().err
