"""The pretend AWS resources of the APIs' edge: the certificate, DNS records and the user pool.

Registered with ``infra.mock_resources`` (which ``infra.mock_cloud`` imports this for): each
builder returns what ACM, Route 53 or Cognito would compute from the inputs.
"""

from __future__ import annotations

from infra.mock_resources import ACCOUNT_ID, builder, short_hash


@builder("aws:acm/certificate:Certificate")
def _certificate(m, args, state, name):
    domain = state["domainName"]
    arn = (f"arn:aws:acm:{m.region}:{ACCOUNT_ID}:certificate/{short_hash(domain, 8)}-0000-4000-"
           f"8000-{short_hash(domain + 'c', 12)}")
    return arn, {"arn": arn, "status": "PENDING_VALIDATION", "domainValidationOptions": [{
        "domainName": domain, "resourceRecordType": "CNAME",
        "resourceRecordName": f"_{short_hash(domain, 32)}.{domain}.",
        "resourceRecordValue": f"_{short_hash(domain + 'v', 32)}.acm-validations.aws."}]}


@builder("aws:acm/certificateValidation:CertificateValidation")
def _certificate_validation(m, args, state, name):
    return f"{args.name}-{short_hash(args.name)}", {}


@builder("aws:route53/record:Record")
def _record(m, args, state, name):
    fqdn = str(state.get("name", args.name)).rstrip(".")
    return f"{state.get('zoneId')}_{fqdn}_{state.get('type')}", {"fqdn": fqdn}


@builder("aws:cognito/userPool:UserPool")
def _user_pool(m, args, state, name):
    pool_id = f"{m.region}_{short_hash(name, 9)}"
    return pool_id, {
        "arn": f"arn:aws:cognito-idp:{m.region}:{ACCOUNT_ID}:userpool/{pool_id}",
        "endpoint": f"cognito-idp.{m.region}.amazonaws.com/{pool_id}"}


@builder("aws:cognito/userPoolClient:UserPoolClient")
def _user_pool_client(m, args, state, name):
    client_id = short_hash(name, 26)
    secret = short_hash(name + "secret", 51) if state.get("generateSecret") else ""
    return client_id, {"clientSecret": secret}


@builder("aws:cognito/resourceServer:ResourceServer")
def _resource_server(m, args, state, name):
    identifier = state["identifier"]
    return f"{state['userPoolId']}|{identifier}", {"scopeIdentifiers": [
        f"{identifier}/{scope['scopeName']}" for scope in state.get("scopes") or []]}


@builder("aws:cognito/userPoolDomain:UserPoolDomain")
def _user_pool_domain(m, args, state, name):
    return state["domain"], {"cloudfrontDistribution": "d111111abcdef8.cloudfront.net"}
