"""The real pack server, spoken to over gRPC as the Pulumi engine does, agrees with `make policy`.

This starts ``python -m pulumi.policy <engine> policies/`` (what the CLI's
``pulumi-analyzer-policy-python`` runs), configures it with prod's policy config, sends every
resource of a deliberately broken prod stack through ``Analyze`` and ``AnalyzeStack``, and
checks that the diagnostics are exactly the offline evaluator's violations.
"""

import os
import selectors
import subprocess
import sys
import time

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2 as proto
from pulumi.runtime.proto import analyzer_pb2_grpc

from guardrails import engine, offline
from guardrails.pack import PACK_NAME, policy_names
from infra import simulation
from tests.policies.conftest import POLICIES_DIR
from tests.policies.stacks import broken

LEVELS = {
    engine.EnforcementLevel.ADVISORY: proto.ADVISORY,
    engine.EnforcementLevel.MANDATORY: proto.MANDATORY,
    engine.EnforcementLevel.DISABLED: proto.DISABLED,
    engine.EnforcementLevel.REMEDIATE: proto.REMEDIATE,
}
START_DEADLINE_SECONDS = 60


def _read_port(process: subprocess.Popen) -> int:
    """The port the pack prints on its first stdout line, waited for with a deadline."""
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    buffer = b""
    while b"\n" not in buffer and time.monotonic() < deadline and process.poll() is None:
        if selector.select(timeout=1):
            buffer += os.read(process.stdout.fileno(), 64)
    selector.close()
    line = buffer.split(b"\n", 1)[0].strip()
    assert line.isdigit(), f"pack did not print a port: {buffer!r} {process.stderr.read()!r}"
    return int(line)


@pytest.fixture(scope="module")
def analyzer():
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(POLICIES_DIR)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=POLICIES_DIR.parent,
    )
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{_read_port(process)}")
        grpc.channel_ready_future(channel).result(timeout=START_DEADLINE_SECONDS)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()


def _struct(value):
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def _provider(view):
    if view.provider is None:
        return None
    p = view.provider
    return proto.AnalyzerProviderResource(
        type=p.type, properties=_struct(p.props), urn=p.urn, name=p.name
    )


def _described(view, properties) -> dict:
    """What the engine sends of a resource, in an AnalyzeRequest as in a stack's resources."""
    return {"type": view.type, "properties": _struct(dict(properties)), "urn": view.urn,
            "name": view.name, "provider": _provider(view),
            "options": proto.AnalyzerResourceOptions(parent=view.parent or "")}


def test_the_server_describes_the_same_policies_and_schemas(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == PACK_NAME
    assert [p.name for p in info.policies] == policy_names()
    backup = next(p for p in info.policies if p.name == "aurora-backup-retention")
    assert backup.enforcementLevel == proto.MANDATORY
    assert backup.configSchema.properties["minimumDays"]["default"] == 7


def test_the_server_and_the_offline_evaluator_report_the_same_violations(analyzer):
    settings = offline.stack_settings("prod")
    analyzer.Configure(
        proto.ConfigureAnalyzerRequest(
            policyConfig={
                name: proto.PolicyConfig(
                    enforcementLevel=LEVELS[s.level], properties=_struct(dict(s.config))
                )
                for name, s in settings.items()
            }
        )
    )
    run, *_ = broken("prod")
    views = engine.engine_views(
        offline.subjects_of(run),
        offline.default_providers(run.config, simulation.project_name()),
    )
    served = set()
    for view in views:
        response = analyzer.Analyze(proto.AnalyzeRequest(**_described(view, view.inputs)))
        served |= {
            (d.policyName, d.enforcementLevel, d.message, view.urn) for d in response.diagnostics
        }
    stack = analyzer.AnalyzeStack(
        proto.AnalyzeStackRequest(
            resources=[
                proto.AnalyzerResource(**_described(v, v.outputs), parent=v.parent or "",
                                       dependencies=v.dependencies)
                for v in views
            ]
        )
    )
    served |= {(d.policyName, d.enforcementLevel, d.message, d.urn) for d in stack.diagnostics}

    offline_found = {
        (v.policy, LEVELS[v.level], f"{v.description}\n{v.message}", v.urn)
        for v in engine.evaluate(views, offline.POLICIES, settings)
    }
    assert len(offline_found) == 6  # the broken root container fails two rules (UID 0)
    assert served == offline_found
