"""The pack reads ports from the process catalogue, also where only the policy SDK is installed."""

import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

from guardrails import catalogue, network
from guardrails.pack import POLICIES
from order_platform.processes import DEPLOYED, Kind
from tests.policies.conftest import POLICIES_DIR
from tests.policies.engine_view import messages, resource_args

INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def test_world_open_ports_are_the_api_ports_of_the_catalogue():
    api_ports = tuple(p.port for p in DEPLOYED if p.kind is Kind.API)
    assert api_ports and api_ports == network.NLB_LISTENER_PORTS
    schema = network.security_group_no_public_ingress.config_schema.properties
    assert schema["allowedPorts"]["default"] == list(api_ports)


def test_a_world_open_health_port_is_still_refused():
    policy = network.security_group_no_public_ingress
    daemon = next(p for p in DEPLOYED if p.kind is Kind.DAEMON)
    for port, refused in ((daemon.health_port, True), (catalogue.API_PORTS[0], False)):
        rule = {"securityGroupId": "sg-1", "ipProtocol": "tcp", "fromPort": port, "toPort": port,
                "cidrIpv4": "0.0.0.0/0"}
        assert bool(messages(policy, resource_args(policy, INGRESS_RULE, rule))) is refused


def test_the_pack_finds_the_catalogue_as_the_cli_launches_it(tmp_path):
    # As in the CLI's policies/venv: the SDKs importable, none of the repository's packages
    # (``-S`` skips the .pth files of the editable installs), and the pack run the way
    # ``python -m pulumi.policy`` runs it. PolicyPack is replaced, so nothing serves.
    script = textwrap.dedent(f"""
        import importlib.util, runpy, sys
        for name in ("order_platform", "guardrails", "infra"):
            assert importlib.util.find_spec(name) is None, name + " is importable"
        import pulumi_policy
        class Recorder:
            def __init__(self, **kwargs):
                print(len(kwargs["policies"]))
        pulumi_policy.PolicyPack = Recorder
        runpy.run_path({str(POLICIES_DIR)!r}, run_name="__main__")
        from guardrails import catalogue
        print(catalogue.API_PORTS, catalogue.processes.__file__)
    """)
    site_packages = sysconfig.get_paths()["purelib"]
    result = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True,
                            timeout=120, check=False, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": site_packages})
    assert result.returncode == 0, result.stderr
    count, ports = result.stdout.splitlines()
    assert int(count) == len(POLICIES)
    assert str(catalogue.API_PORTS) in ports
    assert str(Path(catalogue.processes.__file__).resolve()) in ports
