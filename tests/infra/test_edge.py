"""The APIs' edge: TLS listeners with an ACM certificate, the user pool, the database's TLS."""

from __future__ import annotations

import pytest

from infra import outputs
from infra.config import StackConfigError
from infra.simulation import run_stack
from order_platform.domain.access import Role, scope_of
from tests.infra.helpers import config_value, k8s_named, one

LISTENER = "aws:lb/listener:Listener"
CERTIFICATE_ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-abcdef"


def config_map(run) -> dict[str, str]:
    return k8s_named(run, "ConfigMap", "order-platform-config").inputs["data"]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_staging_and_prod_listeners_terminate_tls_1_3_with_the_validated_certificate(
        stack, stack_runs):
    run = stack_runs[stack]
    domain = config_value(run, "apiTls")["domain"]
    certificate = one(run, "aws:acm/certificate:Certificate")
    assert certificate.inputs["domainName"] == domain
    assert certificate.inputs["validationMethod"] == "DNS"
    validation = one(run, "aws:acm/certificateValidation:CertificateValidation")
    assert validation.inputs["certificateArn"] == certificate.outputs["arn"]
    listeners = run.of_type(LISTENER)
    assert sorted(li.inputs["port"] for li in listeners) == [3000, 3001]
    for listener in listeners:
        assert listener.inputs["protocol"] == "TLS"
        assert listener.inputs["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-3-2021-06"
        assert listener.inputs["certificateArn"] == certificate.outputs["arn"]
        assert listener.depends_on(validation)  # never a listener with an unissued certificate
        # The target groups stay TCP: TLS ends at the NLB, inside the VPC it is plain HTTP.
        target = next(t for t in run.of_type("aws:lb/targetGroup:TargetGroup")
                      if t.outputs["arn"] == listener.inputs["defaultActions"][0]["targetGroupArn"])
        assert target.inputs["protocol"] == "TCP"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_domain_points_at_the_nlb_and_the_urls_are_https(stack, stack_runs):
    run = stack_runs[stack]
    tls = config_value(run, "apiTls")
    records = {r.inputs["type"]: r for r in run.of_type("aws:route53/record:Record")}
    assert set(records) == {"A", "CNAME"}  # the alias and the certificate's validation record
    nlb = one(run, "aws:lb/loadBalancer:LoadBalancer").outputs
    alias = records["A"].inputs
    assert alias["zoneId"] == records["CNAME"].inputs["zoneId"] == tls["hostedZoneId"]
    assert alias["name"] == tls["domain"]
    assert alias["aliases"][0]["name"] == nlb["dnsName"]
    assert alias["aliases"][0]["zoneId"] == nlb["zoneId"]
    assert run.outputs[outputs.WRITE_API_URL] == f"https://{tls['domain']}:3000"
    assert run.outputs[outputs.READ_API_URL] == f"https://{tls['domain']}:3001"
    assert config_map(run)["READ_API_URL"] == f"https://{tls['domain']}:3001"


def test_dev_opts_out_of_tls_in_its_stack_file(stack_runs):
    run = stack_runs["dev"]
    assert config_value(run, "apiTls") == {"enabled": False}
    assert {li.inputs["protocol"] for li in run.of_type(LISTENER)} == {"TCP"}
    assert run.of_type("aws:acm/certificate:Certificate") == []
    assert run.outputs[outputs.READ_API_URL].startswith("http://")


def test_an_existing_certificate_is_used_as_it_is():
    run = run_stack("prod", {"apiTls": {"domain": "api.example.org",
                                        "certificateArn": CERTIFICATE_ARN}})
    assert run.of_type("aws:acm/certificate:Certificate") == []
    assert run.of_type("aws:route53/record:Record") == []  # no zone given: DNS is the owner's
    assert {li.inputs["certificateArn"] for li in run.of_type(LISTENER)} == {CERTIFICATE_ARN}
    assert run.outputs[outputs.WRITE_API_URL] == "https://api.example.org:3000"


@pytest.mark.parametrize(("api_tls", "named"), [
    ({}, "apiTls.domain"),
    ({"domain": "api.example.org"}, "hostedZoneId"),
    ({"domain": "not a domain", "hostedZoneId": "Z123"}, "apiTls.domain"),
    ({"domain": "api.example.org", "hostedZoneId": "zone"}, "apiTls.hostedZoneId"),
    ({"domain": "api.example.org", "certificateArn": "arn:aws:iam::1:role/x"}, "certificateArn"),
    ({"enabled": False, "domain": "api.example.org"}, "enabled is false"),
])
def test_an_incomplete_api_tls_is_refused_naming_the_key(api_tls, named):
    with pytest.raises(StackConfigError, match=named):
        run_stack("staging", {"apiTls": api_tls})


def test_the_user_pool_has_a_group_and_a_scope_per_role_and_two_clients(run):
    pool = one(run, "aws:cognito/userPool:UserPool")
    assert pool.inputs["adminCreateUserConfig"]["allowAdminCreateUserOnly"] is True
    assert {g.inputs["name"] for g in run.of_type("aws:cognito/userGroup:UserGroup")} == {
        role.value for role in Role}
    server = one(run, "aws:cognito/resourceServer:ResourceServer")
    assert set(server.outputs["scopeIdentifiers"]) == {scope_of(role) for role in Role}
    clients = {c.name.rsplit("-", 1)[1]: c for c in
               run.of_type("aws:cognito/userPoolClient:UserPoolClient")}
    people, machines = clients["people"].inputs, clients["machines"].inputs
    assert people["generateSecret"] is False and "allowedOauthFlows" not in people
    assert machines["generateSecret"] is True
    assert machines["allowedOauthFlows"] == ["client_credentials"]
    assert set(machines["allowedOauthScopes"]) == {scope_of(role) for role in Role}
    for client in (people, machines):
        assert client["accessTokenValidity"] == 60
        assert client["tokenValidityUnits"]["accessToken"] == "minutes"


def test_pods_trust_the_pools_issuer_keys_and_clients(run):
    data = config_map(run)
    pool = one(run, "aws:cognito/userPool:UserPool").outputs
    clients = {c.name.rsplit("-", 1)[1]: c.id for c in
               run.of_type("aws:cognito/userPoolClient:UserPoolClient")}
    issuer = f"https://{pool['endpoint']}"
    assert data["AUTH_ISSUER"] == run.outputs[outputs.AUTH_ISSUER] == issuer
    assert data["AUTH_JWKS_URL"] == f"{issuer}/.well-known/jwks.json"
    assert data["AUTH_AUDIENCES"].split(",") == [clients["people"], clients["machines"]]
    assert data["AUTH_AUDIENCE_CLAIM"] == "client_id"
    assert data["AUTH_ROLES_CLAIM"] == "cognito:groups"
    assert run.outputs[outputs.MACHINE_CLIENT_ID] == clients["machines"]
    assert run.outputs[outputs.PEOPLE_CLIENT_ID] == clients["people"]
    domain = one(run, "aws:cognito/userPoolDomain:UserPoolDomain").inputs["domain"]
    assert run.outputs[outputs.AUTH_TOKEN_URL] == (
        f"https://{domain}.auth.eu-west-1.amazoncognito.com/oauth2/token")


def test_the_machine_clients_secret_is_a_secret_output(run):
    assert outputs.MACHINE_CLIENT_SECRET in run.secret_outputs
    assert run.outputs[outputs.MACHINE_CLIENT_SECRET]


def test_another_issuer_replaces_the_pool_by_config_alone():
    issuer = {"issuer": "https://login.example.com/oauth2/default",
              "jwksUrl": "https://login.example.com/oauth2/default/v1/keys",
              "audiences": ["api://orders"], "rolesClaim": "groups"}
    run = run_stack("prod", {"apiAuth": issuer})
    assert run.of_type("aws:cognito/userPool:UserPool") == []
    data = config_map(run)
    assert data["AUTH_ISSUER"] == issuer["issuer"]
    assert data["AUTH_JWKS_URL"] == issuer["jwksUrl"]
    assert data["AUTH_AUDIENCES"] == "api://orders"
    assert data["AUTH_AUDIENCE_CLAIM"] == "aud"
    assert data["AUTH_ROLES_CLAIM"] == "groups"
    assert run.outputs[outputs.MACHINE_CLIENT_ID] == ""


def test_another_issuer_must_be_https_with_an_audience():
    with pytest.raises(StackConfigError, match=r"apiAuth.issuer.*apiAuth.audiences"):
        run_stack("prod", {"apiAuth": {"issuer": "http://login.example.com",
                                       "jwksUrl": "https://login.example.com/keys"}})


def test_aurora_refuses_connections_without_tls(run):
    group = one(run, "aws:rds/clusterParameterGroup:ClusterParameterGroup")
    parameters = {p["name"]: p for p in group.inputs["parameters"]}
    assert parameters["rds.force_ssl"]["value"] == "1"
    assert parameters["rds.force_ssl"]["applyMethod"] == "immediate"
