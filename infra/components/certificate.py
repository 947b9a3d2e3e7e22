"""TLS at the edge: what a stack says about its API listeners, and the ACM certificate they use."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.component import Component

TLS13_POLICY = "ELBSecurityPolicy-TLS13-1-3-2021-06"
"""TLS 1.3 only. The provider's default (ELBSecurityPolicy-2016-08) still takes TLS 1.0."""
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_ZONE_ID = re.compile(r"Z[A-Z0-9]{1,31}")
_CERTIFICATE_ARN = re.compile(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[\w-]+")


@dataclass(frozen=True)
class ApiTls:
    """``apiTls``: the listeners terminate TLS for ``domain``, or (``enabled: false``, dev's
    choice in its stack file) stay plain TCP."""

    enabled: bool
    domain: str = ""
    hosted_zone_id: str = ""
    """Set: the program requests a DNS-validated certificate (unless one is given) and points
    ``domain`` at the load balancer."""
    certificate_arn: str = ""
    """An existing ACM certificate for ``domain``, in the stack's region."""

    @classmethod
    def from_config(cls, raw: Mapping | None) -> ApiTls:
        """Read the ``apiTls`` object; a stack must say, so a missing one is enabled and empty
        (which ``problems`` refuses)."""
        raw = raw or {}
        return cls(enabled=bool(raw.get("enabled", True)),
                   domain=str(raw.get("domain") or "").strip().lower(),
                   hosted_zone_id=str(raw.get("hostedZoneId") or "").strip(),
                   certificate_arn=str(raw.get("certificateArn") or "").strip())

    def problems(self) -> list[str]:
        """What is wrong with the setting, naming the key and the fix."""
        if not self.enabled:
            if self.domain or self.hosted_zone_id or self.certificate_arn:
                return ["apiTls: enabled is false, so domain, hostedZoneId and certificateArn "
                        "must not be set (remove them or turn TLS on)"]
            return []
        problems = []
        if not _DOMAIN.fullmatch(self.domain):
            problems.append(f"apiTls.domain must be the APIs' DNS name (api.example.com), not "
                            f"{self.domain!r}; or set apiTls.enabled: false (dev only)")
        if not (self.hosted_zone_id or self.certificate_arn):
            problems.append("apiTls needs hostedZoneId (a DNS-validated certificate and alias "
                            "records are made) or certificateArn (an existing certificate)")
        if self.hosted_zone_id and not _ZONE_ID.fullmatch(self.hosted_zone_id):
            problems.append(f"apiTls.hostedZoneId {self.hosted_zone_id!r} is not a Route 53 "
                            "hosted zone id (Z...)")
        if self.certificate_arn and not _CERTIFICATE_ARN.fullmatch(self.certificate_arn):
            problems.append(f"apiTls.certificateArn {self.certificate_arn!r} is not an ACM "
                            "certificate ARN")
        return problems


@dataclass(frozen=True)
class ApiCertificateArgs:
    """The name to certify and the hosted zone that proves we own it."""

    domain: str
    hosted_zone_id: str


class ApiCertificate(Component[ApiCertificateArgs]):
    """An ACM certificate for the APIs' domain, validated through DNS records in its zone."""

    arn: pulumi.Output[str]
    """The certificate's ARN once ACM has issued it (listeners wait for it)."""

    def __init__(self, name: str, args: ApiCertificateArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("order-platform:certificate:ApiCertificate", name, args, opts)
        certificate = aws.acm.Certificate(
            f"{name}-api", domain_name=args.domain, validation_method="DNS",
            # A renewal or a new name makes the new certificate before the listeners let go
            # of the old one.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=False))
        option = certificate.domain_validation_options[0]
        record = aws.route53.Record(
            f"{name}-api-validation", zone_id=args.hosted_zone_id, allow_overwrite=True, ttl=60,
            name=option.resource_record_name, type=option.resource_record_type,
            records=[option.resource_record_value], opts=self._child)
        validation = aws.acm.CertificateValidation(
            f"{name}-api", certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn], opts=self._child)
        self.arn = validation.certificate_arn
        self.register_outputs({"arn": self.arn})
