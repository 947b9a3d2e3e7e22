"""IAM policy documents as Outputs: trust policies and least-privilege statements."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi


def service_trust_policy(service_principal: str) -> pulumi.Output[str]:
    """A trust policy letting one AWS service (``eks.amazonaws.com``) assume the role."""
    return pulumi.Output.json_dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service_principal},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }],
    })


def irsa_trust_policy(oidc_provider_arn: pulumi.Input[str], oidc_issuer: pulumi.Input[str],
                      namespace: str, service_account: str) -> pulumi.Output[str]:
    """A trust policy that only the given Kubernetes ServiceAccount can assume through IRSA."""
    def document(args: list[str]) -> dict:
        provider_arn, issuer = args
        host = issuer.removeprefix("https://")
        return {
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {
                    f"{host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                    f"{host}:aud": "sts.amazonaws.com",
                }},
            }],
        }
    return pulumi.Output.json_dumps(
        pulumi.Output.all(oidc_provider_arn, oidc_issuer).apply(document))


def statement(sid: str, actions: Sequence[str], resources: Sequence[pulumi.Input[str]],
              condition: dict | None = None) -> dict:
    """One Allow statement naming exact actions and resource ARNs."""
    stmt: dict = {"Sid": sid, "Effect": "Allow", "Action": list(actions),
                  "Resource": list(resources)}
    if condition:
        stmt["Condition"] = condition
    return stmt


def policy_document(statements: Sequence[dict]) -> pulumi.Output[str]:
    """A policy document (JSON string) from statements that may hold Outputs."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})
