"""Every use of a Pulumi SDK internal, in one module, for the simulation and the policy engine.

Pulumi's public mock API (``set_mocks``, ``Mocks``) answers resource registrations, but it
cannot (1) run a whole program file and hand back its stack outputs, (2) show what the engine
is told about each resource beyond its inputs (parent, dependencies, ``ignore_changes``,
custom timeouts, replace and delete semantics), or (3) decode properties and skip
``not_applicable`` policies exactly as the policy analyzer does. These need the names below,
which are not part of the SDKs' public API and may change in any release:

- pulumi: ``runtime.settings.{ROOT, SETTINGS}``, ``runtime.stack.run_pulumi_func``,
  ``runtime.sync_await._sync_await``, ``runtime.mocks.MockMonitor``, ``runtime.rpc`` property
  (de)serialisation and its secret signature;
- pulumi-policy: ``policy._NotApplicableError``, ``deserialize.deserialize_properties``,
  ``proxy.{unknown_checking_proxy, UnknownValueError}``.

``tests/infra/test_pulumi_internals.py`` exercises each of them and fails with a message naming
the pinned versions (``PINNED``) when an upgrade breaks one. Nothing else imports these names.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, cast

PINNED = {"pulumi": "3.272", "pulumi-policy": "1.21"}
"""Minor versions these internals were written against (``pyproject.toml`` pins ``~=`` them)."""

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"  # noqa: S105 - a wire marker, not a secret
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 - a wire marker, not a secret


def installed_versions() -> dict[str, str]:
    """The installed version of each pinned package."""
    return {name: metadata.version(name) for name in PINNED}


def pin_message(what: str) -> str:
    """A message for an internal that no longer behaves as this module expects."""
    installed = ", ".join(f"{k} {v}" for k, v in installed_versions().items())
    pinned = ", ".join(f"{k}~={v}.0" for k, v in PINNED.items())
    return (f"Pulumi internals changed: {what}. infra/pulumi_internals.py was written for "
            f"{pinned}; installed: {installed}. Adapt that module (only it) to the new SDK.")


@dataclass(frozen=True)
class Registration:
    """What the engine is told when a program registers one resource, as plain data."""

    type: str
    name: str
    urn: str
    parent: str | None
    provider: str | None
    custom: bool
    inputs: dict
    outputs: dict
    id: str | None
    dependencies: tuple[str, ...]
    """``depends_on`` (components expanded to their resources) and every input's sources."""
    ignore_changes: tuple[str, ...] = ()
    replace_on_changes: tuple[str, ...] = ()
    delete_before_replace: bool | None = None
    """None when the program left it to the provider."""
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    """``create``/``update``/``delete`` as Pulumi duration strings (``"20m"``), when set."""
    protect: bool = False
    retain_on_delete: bool = False
    aliases: tuple[str, ...] = ()
    """Former names (or URNs) the resource answers to, so a rename is not a replacement."""


@dataclass
class ProgramResult:
    """Stack outputs of a program run, resolved, and the names of the secret ones."""

    outputs: dict[str, Any]
    secret: set[str]


def monitor_class():
    """A mock resource monitor that reports every registration to ``on_register``.

    The engine-side data (parent, dependencies, options) is in the gRPC request, which the
    public ``Mocks.new_resource`` never sees; the request is read after the stock monitor
    has answered it, so registration itself stays Pulumi's own code.
    """
    from pulumi.runtime import rpc
    from pulumi.runtime.mocks import MockMonitor
    from pulumi.runtime.sync_await import _ensure_event_loop

    class RecordingMonitor(MockMonitor):
        """MockMonitor + a callback with each registration as a ``Registration``."""

        def __init__(self, mocks, on_register: Callable[[Registration], None]):
            super().__init__(mocks)
            self._on_register = on_register

        def RegisterResource(self, request):
            response = super().RegisterResource(request)
            if request.type == "pulumi:pulumi:Stack":
                return response
            _ensure_event_loop()
            deps = set(request.dependencies)
            for prop_deps in request.propertyDependencies.values():
                deps.update(prop_deps.urns)
            timeouts = request.customTimeouts
            self._on_register(Registration(
                type=request.type, name=request.name, urn=response.urn,
                parent=request.parent or None, provider=request.provider or None,
                custom=bool(request.custom),
                inputs=copy.deepcopy(rpc.deserialize_properties(request.object)),
                outputs=copy.deepcopy(rpc.deserialize_properties(response.object)),
                id=response.id or None, dependencies=tuple(sorted(deps)),
                ignore_changes=tuple(request.ignoreChanges),
                replace_on_changes=tuple(request.replaceOnChanges),
                delete_before_replace=(request.deleteBeforeReplace
                                       if request.deleteBeforeReplaceDefined else None),
                custom_timeouts={key: getattr(timeouts, key)
                                 for key in ("create", "update", "delete")
                                 if getattr(timeouts, key)},
                protect=bool(request.protect), retain_on_delete=bool(request.retainOnDelete),
                aliases=(*request.aliasURNs, *(alias.urn or alias.spec.name
                                               for alias in request.aliases))))
            return response

    return RecordingMonitor


_LOCK = threading.Lock()


def run_program(program: Callable[[], Any], *, mocks, on_register: Callable[[Registration], None],
                config: Mapping[str, str], project: str, stack: str) -> ProgramResult:
    """Run ``program`` as ``pulumi up`` would, under ``mocks``; resolve its stack outputs.

    Runs are serialised: the runtime's settings are process-global, and each run starts from
    a fresh root Stack resource so that one process can simulate any number of stacks.
    """
    import pulumi
    from pulumi.runtime import settings
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    with _LOCK:
        monitor = monitor_class()(mocks, on_register)
        settings.ROOT.set(None)
        pulumi.runtime.set_all_config(dict(config), [])
        pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False,
                                 monitor=monitor)
        settings.SETTINGS.rpc_manager.clear()
        settings.SETTINGS.outputs.clear()
        try:
            _sync_await(run_pulumi_func(program))
            root = pulumi.runtime.get_root_resource()
            # The root Stack resource keeps what pulumi.export registered.
            return _resolve(cast(Any, root).outputs if root is not None else {})
        finally:
            settings.ROOT.set(None)


def _resolve(raw: Mapping[str, Any]) -> ProgramResult:
    from pulumi import Output
    from pulumi.runtime.sync_await import _sync_await

    result = ProgramResult(outputs={}, secret=set())
    for key, value in raw.items():
        output = Output.from_input(value)
        result.outputs[key] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            result.secret.add(key)
    return result


def unwrap_secrets(value: Any) -> Any:
    """A deserialised value with every secret marker replaced by the value it wraps."""
    if isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG:
        return unwrap_secrets(value.get("value"))
    if isinstance(value, dict):
        return {key: unwrap_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(item) for item in value]
    return value


# --- pulumi-policy: how the analyzer decodes properties and skips policies -----------------

def analyzer_props(wire: Mapping[str, Any]) -> Mapping[str, Any]:
    """Properties (a ``Struct`` as a dict) decoded as the analyzer hands them to a policy."""
    from pulumi_policy.deserialize import deserialize_properties
    from pulumi_policy.proxy import unknown_checking_proxy

    return unknown_checking_proxy(deserialize_properties(dict(wire)))


def unknown_value_error() -> type[Exception]:
    """The exception a policy sees when it reads a value unknown during preview."""
    from pulumi_policy.proxy import UnknownValueError

    return UnknownValueError


def not_applicable_error() -> type[Exception]:
    """The exception ``args.not_applicable()`` raises; the analyzer skips the policy on it."""
    from pulumi_policy.policy import _NotApplicableError

    return _NotApplicableError
