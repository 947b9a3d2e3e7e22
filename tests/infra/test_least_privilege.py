"""Each service role can do only what its service needs, on exact ARNs."""

from __future__ import annotations

from infra.components.cache import CLIENT_ROLES
from order_platform.topology import QUEUES
from tests.infra.helpers import as_list, document, k8s_named, one, prefix

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ACCOUNTS = ("write-api", "read-api", "worker", "relay", "migrate")
SECRET_ACTIONS = {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
WORKER_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                  "sqs:GetQueueAttributes"}


def service_roles(run) -> dict:
    """IRSA roles (children of the ServiceIdentities component) by ServiceAccount."""
    parent = one(run, "order-platform:identity:ServiceIdentities").urn
    roles = [r for r in run.of_type(ROLE) if r.parent == parent]
    return {r.outputs["name"].removeprefix(f"{prefix(run)}-"): r for r in roles}


def grants(run, role) -> list[tuple[str, str]]:
    """Every (action, resource) pair a role's inline policies allow."""
    pairs = []
    for policy in run.of_type(ROLE_POLICY):
        if policy.inputs["role"] != role.outputs["name"]:
            continue
        for statement in document(policy)["Statement"]:
            assert statement["Effect"] == "Allow"
            pairs += [(a, r) for a in as_list(statement["Action"])
                      for r in as_list(statement["Resource"])]
    return pairs


def secret_pairs(run):
    db = one(run, "aws:rds/cluster:Cluster").outputs
    key = one(run, "order-platform:database:Database").urn
    key_arn = next(k.outputs["arn"] for k in run.of_type("aws:kms/key:Key") if k.parent == key)
    secret = db["masterUserSecrets"][0]["secretArn"]
    return {(a, secret) for a in SECRET_ACTIONS} | {("kms:Decrypt", key_arn)}


def cache_secret_pairs(run):
    """What reading the cache's AUTH secret takes; nothing when the stack has no cache."""
    secrets = run.of_type("aws:secretsmanager/secret:Secret")
    if not secrets:
        return set()
    cache = one(run, "order-platform:cache:Cache").urn
    key_arn = next(k.outputs["arn"] for k in run.of_type("aws:kms/key:Key") if k.parent == cache)
    return {(a, secrets[0].outputs["arn"]) for a in SECRET_ACTIONS} | {("kms:Decrypt", key_arn)}


def test_one_role_per_service_account(run):
    assert set(service_roles(run)) == set(ACCOUNTS)


def test_no_wildcard_action_or_resource_in_any_service_role(run):
    for account, role in service_roles(run).items():
        for action, resource in grants(run, role):
            assert "*" not in action, f"{account}: wildcard action {action}"
            assert "*" not in resource, f"{account}: wildcard resource {resource}"
            assert resource.startswith("arn:aws:"), f"{account}: {resource} is not an exact ARN"


def test_each_role_reaches_only_its_own_resources(run):
    roles = service_roles(run)
    queues = {q.outputs["name"]: q.outputs["arn"] for q in run.of_type("aws:sqs/queue:Queue")}
    bus_arn = one(run, "aws:cloudwatch/eventBus:EventBus").outputs["arn"]
    own_queues = {queues[q.name(prefix(run))] for q in QUEUES}
    base = secret_pairs(run)
    expected = {
        "write-api": base,
        "read-api": base,
        "migrate": base,
        "relay": base | {("events:PutEvents", bus_arn)},
        "worker": base | {(a, q) for a in WORKER_ACTIONS for q in own_queues},
    }
    # The cache's AUTH secret: its clients (the read API fills, the worker evicts), no others.
    assert set(CLIENT_ROLES) == {"read-api", "worker"}
    for account in CLIENT_ROLES:
        expected[account] = expected[account] | cache_secret_pairs(run)
    for account, pairs in expected.items():
        assert set(grants(run, roles[account])) == pairs, account


def test_kms_decrypt_only_through_secrets_manager(run):
    for role in service_roles(run).values():
        policy = next(p for p in run.of_type(ROLE_POLICY)
                      if p.inputs["role"] == role.outputs["name"])
        decrypt = [s for s in document(policy)["Statement"]
                   if "kms:Decrypt" in as_list(s["Action"])]
        region = run.config["aws:region"]
        assert decrypt[0]["Condition"] == {
            "StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}


def test_roles_trust_only_their_service_account(run):
    oidc = one(run, "aws:iam/openIdConnectProvider:OpenIdConnectProvider").outputs
    issuer = oidc["url"].removeprefix("https://")
    namespace = run.config["order-platform:namespace"]
    for account, role in service_roles(run).items():
        (statement,) = document(role, "assumeRolePolicy")["Statement"]
        assert statement["Principal"] == {"Federated": oidc["arn"]}
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Condition"]["StringEquals"] == {
            f"{issuer}:sub": f"system:serviceaccount:{namespace}:{account}",
            f"{issuer}:aud": "sts.amazonaws.com"}


def test_service_accounts_carry_their_role(run):
    for account, role in service_roles(run).items():
        sa = k8s_named(run, "ServiceAccount", account)
        assert sa.inputs["metadata"]["annotations"] == {
            "eks.amazonaws.com/role-arn": role.outputs["arn"]}


def test_each_workload_runs_as_its_own_service_account(run):
    from tests.infra.helpers import pod_templates
    for name, pod in pod_templates(run).items():
        account = "migrate" if name.startswith("db-migrate-") else name
        assert pod["serviceAccountName"] == account
