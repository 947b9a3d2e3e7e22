"""The APIs' edge as the stack config asks for it: the listeners' TLS and the token issuer.

Called by the composition root (``infra/__main__.py``); each piece is a component of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from infra.components.certificate import ApiCertificate, ApiCertificateArgs
from infra.components.loadbalancer import ListenerTls
from infra.components.user_pool import UserPool, UserPoolArgs
from infra.config import StackConfig
from infra.wiring import TokenIssuer


@dataclass(frozen=True)
class Edge:
    """What the load balancer and the pods are given."""

    tls: ListenerTls | None
    issuer: TokenIssuer
    user_pool: UserPool | None
    """None when the stack trusts another issuer (``apiAuth``)."""


def build_edge(config: StackConfig, account_id: str, opts: pulumi.ResourceOptions) -> Edge:
    """The certificate (unless one is given), and the user pool (unless ``apiAuth`` names
    another issuer)."""
    prefix, tls = config.prefix, config.api_tls
    listener_tls = None
    if tls.enabled:
        certificate_arn: pulumi.Input[str] = tls.certificate_arn or ApiCertificate(
            prefix, ApiCertificateArgs(domain=tls.domain, hosted_zone_id=tls.hosted_zone_id),
            opts=opts).arn
        listener_tls = ListenerTls(domain=tls.domain, certificate_arn=certificate_arn,
                                   hosted_zone_id=tls.hosted_zone_id)
    if config.api_auth is not None:
        return Edge(listener_tls, config.api_auth.token_issuer(), None)
    pool = UserPool(prefix, UserPoolArgs(
        name=prefix, domain_prefix=f"{prefix}-{account_id}", region=config.region,
        # The pool holds people's accounts: protected wherever the orders are.
        deletion_protection=config.db_deletion_protection), opts=opts)
    return Edge(listener_tls, pool.token_issuer(), pool)
