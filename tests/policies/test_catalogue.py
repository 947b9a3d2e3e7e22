"""The pack reads ports from the process catalogue, also where only the policy SDK is installed."""

import subprocess
import sys
import textwrap

from guardrails import catalogue, network

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


def test_the_pack_finds_the_catalogue_without_the_installed_package():
    # As in the CLI's policies/venv: order_platform is not importable until the pack adds
    # services/ itself.
    script = textwrap.dedent(f"""
        import importlib.util, sys
        sys.path[:] = [p for p in sys.path if not p.rstrip("/").endswith("services")]
        assert importlib.util.find_spec("order_platform") is None, "still installed"
        sys.path.insert(0, {str(POLICIES_DIR)!r})
        from guardrails import catalogue
        print(catalogue.API_PORTS, catalogue.processes.__file__)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert str(catalogue.API_PORTS) in result.stdout
    assert str(catalogue.SERVICES_DIR) in result.stdout
