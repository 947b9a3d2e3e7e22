"""Run the real Pulumi program offline, under mocks, and return what it registers.

Usage (tests, the offline policy evaluator)::

    from infra.simulation import run_stack, stack_names

    for stack in stack_names():                      # ["dev", "prod", "staging"]
        run = run_stack(stack)                       # infra/__main__.py under set_mocks
        queues = run.of_type("aws:sqs/queue:Queue")  # SimulatedResource list
        run.outputs["dbSecretArn"]                   # resolved stack outputs

    run_stack("prod", {"nlbAllowedCidrs": ["0.0.0.0/0"]})   # deliberately break a stack
    run.invocations                                 # every invoke the program made, in order

The config is ``Pulumi.<stack>.yaml`` over the defaults of the project schema in
``Pulumi.yaml``; ``config_overrides`` goes on top (a bare key means the project
namespace, ``aws:region`` style keys are taken as written). Settings that a
stack may legitimately choose (CIDRs, deletion protection, retention, replica
counts, NAT strategy, image tag) can be overridden. Properties that are never
configurable, such as storage encryption, queue DLQs or non-root containers,
are hard-wired in the components: to test a policy against them, deep-copy a
``SimulatedResource`` from a run and mutate its ``inputs``.

Runs are in-process, one at a time; the Pulumi runtime's global settings are
reset before each run, so every stack can be simulated from one pytest process.
Every Pulumi internal this needs is in ``infra/pulumi_internals.py``.
"""

from __future__ import annotations

import json
import runpy
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
PROGRAM_DIR = REPO_ROOT / "infra"


@dataclass
class SimulatedResource:
    """One resource the program registered, as the engine would see it."""

    type: str
    """Type token, e.g. ``aws:rds/cluster:Cluster``."""
    name: str
    urn: str
    inputs: dict
    """As the engine sees them: camelCase keys (``MockResourceArgs.inputs``); whole numbers
    are ints, secrets are unwrapped to their values, and provider resources carry nested
    config as JSON strings (``defaultTags``)."""
    outputs: dict
    """The mocked state returned by ``new_resource``."""
    parent: str | None
    provider: str | None
    custom: bool
    dependencies: list[str] = field(default_factory=list)
    """URNs from ``depends_on`` (a component stands for its resources) and from inputs that are
    other resources' outputs: everything the engine creates before this resource."""
    id: str | None = None
    ignore_changes: tuple[str, ...] = ()
    """Input paths whose drift the engine ignores (``ResourceOptions.ignore_changes``)."""
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    """``create``/``update``/``delete`` waits the program set, e.g. ``{"create": "20m"}``."""
    replace_on_changes: tuple[str, ...] = ()
    delete_before_replace: bool | None = None
    """None when the program left it to the provider."""
    protect: bool = False
    retain_on_delete: bool = False
    aliases: tuple[str, ...] = ()
    """Former logical names (or URNs): a rename with an alias keeps the resource in place."""

    @property
    def annotations(self) -> dict[str, str]:
        """``metadata.annotations`` of a Kubernetes object (empty for anything else)."""
        return dict((self.inputs.get("metadata") or {}).get("annotations") or {})

    def depends_on(self, other: SimulatedResource) -> bool:
        """True when the engine must create ``other`` before this resource."""
        return other.urn in self.dependencies


@dataclass
class StackRun:
    """The result of one simulated ``pulumi up``."""

    stack: str
    resources: list[SimulatedResource]
    outputs: dict
    """Stack outputs, resolved."""
    secret_outputs: frozenset[str] = frozenset()
    config: dict[str, str] = field(default_factory=dict)
    """The fully-qualified config the program saw (``order-platform:imageTag`` ...)."""
    invocations: list = field(default_factory=list)
    """``mock_cloud.Invocation`` of every provider function the program called, in order."""

    def of_type(self, type_token: str) -> list[SimulatedResource]:
        """Every resource with this type token."""
        return [r for r in self.resources if r.type == type_token]

    def by_urn(self, urn: str) -> SimulatedResource:
        """The resource with this URN."""
        return next(r for r in self.resources if r.urn == urn)

    def named(self, type_token: str, name: str) -> SimulatedResource:
        """The resource of this type with this logical name."""
        return next(r for r in self.of_type(type_token) if r.name == name)

    def outlived_by(self, resource: SimulatedResource) -> set[str]:
        """URNs `pulumi destroy` deletes only after ``resource`` is gone.

        The engine deletes in reverse dependency order, where a resource depends on its
        ``dependencies``, its parent and its provider; only a chain of those orders two
        deletions, everything else may go at the same time.
        """
        by_urn = {r.urn: r for r in self.resources}
        found: set[str] = set()
        todo = [resource]
        while todo:
            current = todo.pop()
            provider = current.provider.rsplit("::", 1)[0] if current.provider else None
            for urn in (*current.dependencies, current.parent, provider):
                if urn and urn not in found:
                    found.add(urn)
                    if urn in by_urn:
                        todo.append(by_urn[urn])
        return found


def project_name() -> str:
    """The project name in ``Pulumi.yaml``."""
    return read_yaml(REPO_ROOT / "Pulumi.yaml")["name"]


def stack_names() -> list[str]:
    """Stacks with a ``Pulumi.<stack>.yaml`` at the repo root, sorted."""
    return sorted(p.name.split(".")[1] for p in REPO_ROOT.glob("Pulumi.*.yaml"))


def stack_config(stack: str, config_overrides: dict[str, object] | None = None) -> dict[str, str]:
    """The fully-qualified config for ``stack`` as the engine passes it (JSON for non-strings)."""
    project_file = read_yaml(REPO_ROOT / "Pulumi.yaml")
    project = project_file["name"]
    stack_path = REPO_ROOT / f"Pulumi.{stack}.yaml"
    if not stack_path.exists():
        raise FileNotFoundError(f"no stack file {stack_path.name}")
    values: dict[str, object] = {}
    for key, spec in (project_file.get("config") or {}).items():
        if isinstance(spec, dict) and ("type" in spec or "default" in spec):
            if "default" in spec:
                values[_qualify(project, key)] = spec["default"]
        else:
            values[_qualify(project, key)] = spec
    values.update((read_yaml(stack_path).get("config") or {}).items())
    for key, value in (config_overrides or {}).items():
        values[_qualify(project, key)] = value
    return {key: _encode(value) for key, value in values.items()}


def run_stack(stack: str, config_overrides: dict[str, object] | None = None, *,
              ecr: Mapping[str, Iterable[str]] | None = None,
              caller_role: str | None = None,
              databases: Mapping[str, str] | None = None,
              clusters: Mapping[str, str] | None = None) -> StackRun:
    """Run ``infra/__main__.py`` under mocks for ``stack`` and return every registered resource.

    ``ecr`` is what the account's registry holds (repository name -> pushed tags); by default
    the stack's repository exists with its ``imageTag`` pushed, as after a release.
    ``caller_role`` is the IAM role that runs the program; by default the stack's first
    deployer role, as when CI deploys. ``databases`` and ``clusters`` are the Aurora and EKS
    clusters that exist (name -> version they run); by default the stack's, on the versions of
    its stack file (``config_overrides`` are the change being made). Support windows are judged
    as of ``kubernetes_versions.today()`` (tests pin it with ``pinned_today``).
    """
    from infra.mock_cloud import CALLER_ROLE, CloudMocks  # pulumi loads only when a stack runs

    config = stack_config(stack, config_overrides)
    project = project_name()
    if ecr is None:
        ecr = {f"{project}-{stack}": [config[_qualify(project, "imageTag")]]}
    if caller_role is None:
        deployers = json.loads(config.get(_qualify(project, "clusterDeployerRoleArns"), "[]"))
        caller_role = deployers[0] if deployers else CALLER_ROLE
    deployed = stack_config(stack)
    if databases is None:
        databases = {f"{project}-{stack}-db": f"{deployed[_qualify(project, 'dbEngineVersion')]}.8"}
    if clusters is None:
        clusters = {f"{project}-{stack}": deployed[_qualify(project, "kubernetesVersion")]}
    return _run(stack, config, CloudMocks(_region(config), ecr, caller_role, databases, clusters))


def typed_config(run: StackRun):
    """The ``infra.config.StackConfig`` the program read in ``run``: same config, same checks.

    ``load_stack_config`` needs a Pulumi runtime, so it runs under the same mocks as the
    program; readers of stack settings (``cost/``) get them typed and validated, once.
    """
    from infra import pulumi_internals
    from infra.config import load_stack_config
    from infra.mock_cloud import CloudMocks

    loaded = []
    pulumi_internals.run_program(lambda: loaded.append(load_stack_config()),
                                 mocks=CloudMocks(_region(run.config)), on_register=lambda _: None,
                                 config=run.config, project=project_name(), stack=run.stack)
    return loaded[0]


def _region(config: dict[str, str]) -> str:
    raw = config["aws:region"]
    return json.loads(raw) if raw.startswith('"') else raw


def _run(stack: str, config: dict[str, str], mocks) -> StackRun:
    from infra import pulumi_internals

    records: list[SimulatedResource] = []
    records_lock = threading.Lock()

    def record(registration: pulumi_internals.Registration) -> None:
        resource = _simulated(registration)
        with records_lock:
            records.append(resource)

    result = pulumi_internals.run_program(
        lambda: runpy.run_path(str(PROGRAM_DIR), run_name="__main__"),
        mocks=mocks, on_register=record, config=config,
        project=project_name(), stack=stack)
    return StackRun(stack=stack, resources=list(records), outputs=result.outputs,
                    secret_outputs=frozenset(result.secret), config=dict(config),
                    invocations=list(mocks.invocations))


def _simulated(registration) -> SimulatedResource:
    return SimulatedResource(
        type=registration.type, name=registration.name, urn=registration.urn,
        inputs=_plain(registration.inputs), outputs=_plain(registration.outputs),
        parent=registration.parent, provider=registration.provider,
        custom=registration.custom, dependencies=list(registration.dependencies),
        id=registration.id, ignore_changes=registration.ignore_changes,
        custom_timeouts=dict(registration.custom_timeouts),
        replace_on_changes=registration.replace_on_changes,
        delete_before_replace=registration.delete_before_replace,
        protect=registration.protect, retain_on_delete=registration.retain_on_delete,
        aliases=registration.aliases)


def _plain(value):
    """Whole numbers as ints (the engine carries doubles) and secrets unwrapped to their value."""
    from infra.pulumi_internals import unwrap_secrets

    return _whole_numbers(unwrap_secrets(value))


def _whole_numbers(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value


def _qualify(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _encode(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def read_yaml(path: Path) -> dict:
    """A YAML file as a dict (empty when the file is empty)."""
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}
