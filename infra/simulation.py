"""Run the real Pulumi program offline, under mocks, and return what it registers.

Usage (tests, the offline policy evaluator)::

    from infra.simulation import run_stack, stack_names

    for stack in stack_names():                      # ["dev", "prod", "staging"]
        run = run_stack(stack)                       # infra/__main__.py under set_mocks
        queues = run.of_type("aws:sqs/queue:Queue")  # SimulatedResource list
        run.outputs["dbSecretArn"]                   # resolved stack outputs

    run_stack("prod", {"nlbAllowedCidrs": ["0.0.0.0/0"]})   # deliberately break a stack

The config is ``Pulumi.<stack>.yaml`` over the defaults of the project schema in
``Pulumi.yaml``; ``config_overrides`` goes on top (a bare key means the project
namespace, ``aws:region`` style keys are taken as written). Settings that a
stack may legitimately choose (CIDRs, deletion protection, retention, replica
counts, NAT strategy, image tag) can be overridden. Properties that are never
configurable, such as storage encryption, queue DLQs or non-root containers,
are hard-wired in the components: to test a policy against them, deep-copy a
``SimulatedResource`` from a run and mutate its ``inputs``.

Runs are in-process, one at a time (a lock serialises them); the Pulumi
runtime's global settings are reset before each run, so every stack can be
simulated from one pytest process.
"""

from __future__ import annotations

import copy
import json
import runpy
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
PROGRAM_DIR = REPO_ROOT / "infra"
_LOCK = threading.Lock()


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
    """URNs from ``depends_on`` and from inputs that are other resources' outputs."""
    id: str | None = None


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

    def of_type(self, type_token: str) -> list[SimulatedResource]:
        """Every resource with this type token."""
        return [r for r in self.resources if r.type == type_token]

    def by_urn(self, urn: str) -> SimulatedResource:
        """The resource with this URN."""
        return next(r for r in self.resources if r.urn == urn)

    def named(self, type_token: str, name: str) -> SimulatedResource:
        """The resource of this type with this logical name."""
        return next(r for r in self.of_type(type_token) if r.name == name)


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


def run_stack(stack: str, config_overrides: dict[str, object] | None = None) -> StackRun:
    """Run ``infra/__main__.py`` under mocks for ``stack`` and return every registered resource."""
    config = stack_config(stack, config_overrides)
    with _LOCK:
        return _run(stack, config)


def _run(stack: str, config: dict[str, str]) -> StackRun:
    import pulumi
    from pulumi.runtime import settings as runtime_settings
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    from infra.mock_cloud import CloudMocks

    region = json.loads(config["aws:region"]) if config["aws:region"].startswith('"') \
        else config["aws:region"]
    monitor = _RecordingMonitor(CloudMocks(region))
    runtime_settings.ROOT.set(None)  # a fresh root Stack resource per run
    pulumi.runtime.set_all_config(config, [])
    pulumi.runtime.set_mocks(monitor.mocks, project=project_name(), stack=stack,
                             preview=False, monitor=monitor)
    runtime_settings.SETTINGS.rpc_manager.clear()
    runtime_settings.SETTINGS.outputs.clear()
    try:
        _sync_await(run_pulumi_func(
            lambda: runpy.run_path(str(PROGRAM_DIR), run_name="__main__")))
        root = runtime_settings.get_root_resource()
        outputs, secret = _resolve_outputs(root.outputs if root is not None else {})
    finally:
        runtime_settings.ROOT.set(None)
    return StackRun(stack=stack, resources=monitor.simulated(), outputs=outputs,
                    secret_outputs=frozenset(secret), config=dict(config))


def _resolve_outputs(raw: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Resolve the stack's exported Outputs to plain values, noting which are secret."""
    from pulumi import Output
    from pulumi.runtime.sync_await import _sync_await

    values: dict[str, Any] = {}
    secret: set[str] = set()
    for key, value in raw.items():
        output = Output.from_input(value)
        values[key] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            secret.add(key)
    return values, secret


def _make_monitor_class():
    """Build the recording monitor lazily so importing this module stays light."""
    from pulumi.runtime import rpc
    from pulumi.runtime.mocks import MockMonitor, MockResourceArgs, _resolve_callbacks
    from pulumi.runtime.proto import resource_pb2
    from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

    class RecordingMonitor(MockMonitor):
        """A MockMonitor that also records parent, provider, dependencies and inputs."""

        def __init__(self, mocks):
            super().__init__(mocks)
            self.records: list[SimulatedResource] = []
            self._records_lock = threading.Lock()

        def RegisterResource(self, request):
            urn = self.make_urn(request.parent, request.type, request.name)
            if request.type == "pulumi:pulumi:Stack":
                return resource_pb2.RegisterResourceResponse(urn=urn)
            _ensure_event_loop()
            inputs = rpc.deserialize_properties(request.object)
            args = MockResourceArgs(
                typ=request.type, name=request.name, inputs=copy.deepcopy(inputs),
                provider=request.provider, resource_id=request.importId,
                custom=request.custom or False,
                transforms=_resolve_callbacks(request.transforms),
            )
            id_, state = self.mocks.new_resource(args)
            obj_proto = _sync_await(rpc.serialize_properties(state, {}))
            self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_, state)
            deps = set(request.dependencies)
            for prop_deps in request.propertyDependencies.values():
                deps.update(prop_deps.urns)
            record = SimulatedResource(
                type=request.type, name=request.name, urn=urn, inputs=_plain(inputs),
                outputs=_plain(copy.deepcopy(state)), parent=request.parent or None,
                provider=request.provider or None, custom=bool(request.custom),
                dependencies=sorted(deps), id=id_,
            )
            with self._records_lock:
                self.records.append(record)
            return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj_proto)

        def simulated(self) -> list[SimulatedResource]:
            with self._records_lock:
                return list(self.records)

    return RecordingMonitor


_MONITOR_CLASS = None


def _RecordingMonitor(mocks):
    global _MONITOR_CLASS  # noqa: PLW0603 - built once, on first use
    if _MONITOR_CLASS is None:
        _MONITOR_CLASS = _make_monitor_class()
    return _MONITOR_CLASS(mocks)


_SECRET_SIG = "4dabf18193072939515e22adb298388d"  # noqa: S105 - Pulumi's secret marker key


def _plain(value):
    """Whole numbers as ints (the engine carries doubles) and secrets unwrapped to their value."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict) and _SECRET_SIG in value:
        return _plain(value.get("value"))
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _qualify(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _encode(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def read_yaml(path: Path) -> dict:
    """A YAML file as a dict (empty when the file is empty)."""
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}
