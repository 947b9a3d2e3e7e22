"""Every version the cluster runs, pinned per Kubernetes minor, and how long AWS supports it.

Nothing the program deploys is looked up at deploy time: a lookup of "the newest" (EKS's
``get_addon_version(most_recent=True)``, ``al2023@latest``) makes an unrelated ``up`` upgrade
whatever AWS published since the last one. Raising ``kubernetesVersion`` is the one change that
moves these, together, and ``make preview`` shows each of them.

Sources (read 2026-12-07; docs/deploying.md "Upgrading Kubernetes" says how to add a row): the
support dates are AWS's EKS release calendar (docs.aws.amazon.com/eks/latest/userguide/
kubernetes-versions.html#kubernetes-release-calendar; 1.36's as mirrored by endoflife.date: the
page itself was not reachable from here); kube-proxy and CoreDNS from the EKS user guide's
per-version tables; the AMI releases are amazon-eks-ami's (v20260903 for 1.35 and 1.36).
vpc-cni, metrics-server, cert-manager and adot were taken from public stacks pinned to these
minors, not asked of EKS from here: ``aws eks describe-addon-versions --kubernetes-version <v>
--addon-name <name>`` confirms them, and an ``up`` fails on a version EKS does not offer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

WARN_DAYS = 60
"""Validation warns this many days before the support a stack relies on ends (AWS announces an
end of standard support at least 60 days ahead)."""
KARPENTER_CHART = "1.14.1"
"""Karpenter's charts (controller and CRDs move together); 1.14 supports Kubernetes 1.30-1.36."""
KARPENTER_RANGE = ("1.30", "1.36")


@dataclass(frozen=True)
class KubernetesRelease:
    """One EKS minor version: its support window and every version pinned to it."""

    version: str
    end_of_standard_support: date
    end_of_extended_support: date
    addons: Mapping[str, str]
    """EKS add-on name -> ``addonVersion`` (core and community add-ons alike)."""
    node_ami_release: str
    """The system node group's ``releaseVersion`` (EKS-optimized AL2023, ``<k8s>-<date>``)."""
    karpenter_ami_alias: str
    """The Karpenter EC2NodeClass ``amiSelectorTerms[].alias``: the same AMI release."""
    karpenter_chart: str = KARPENTER_CHART

    def end_of_support(self, support_type: str) -> date:
        """When the support a cluster with this upgrade policy relies on ends."""
        return (self.end_of_extended_support if support_type == "EXTENDED"
                else self.end_of_standard_support)


_COMMUNITY = {"metrics-server": "v0.8.1-eksbuild.2", "cert-manager": "v1.21.0-eksbuild.2",
              "adot": "v0.151.0-eksbuild.2"}
_VPC_CNI = "v1.22.3-eksbuild.1"


def _pinned(version: str, standard_end: date, kube_proxy: str, coredns: str,
            node_ami_release: str) -> KubernetesRelease:
    """A row of the table: extended support is EKS's 12 months more; Karpenter's nodes run the
    system nodes' AMI release."""
    return KubernetesRelease(
        version, standard_end, standard_end.replace(year=standard_end.year + 1),
        MappingProxyType({"vpc-cni": _VPC_CNI, "kube-proxy": kube_proxy, "coredns": coredns,
                          **_COMMUNITY}),
        node_ami_release=node_ami_release,
        karpenter_ami_alias=f"al2023@v{node_ami_release.split('-')[1]}")


RELEASES: Mapping[str, KubernetesRelease] = MappingProxyType({r.version: r for r in (
    _pinned("1.33", date(2026, 7, 29), "v1.33.10-eksbuild.13", "v1.12.4-eksbuild.18",
            "1.33.8-20260304"),
    _pinned("1.34", date(2026, 12, 2), "v1.34.6-eksbuild.13", "v1.13.2-eksbuild.11",
            "1.34.7-20260512"),
    _pinned("1.35", date(2027, 3, 27), "v1.35.3-eksbuild.13", "v1.14.3-eksbuild.3",
            "1.35.7-20260903"),
    _pinned("1.36", date(2027, 8, 2), "v1.36.0-eksbuild.14", "v1.14.3-eksbuild.3",
            "1.36.3-20260903"),
)})
"""Every minor this program deploys, oldest first."""

DEFAULT_VERSION = "1.36"
"""``kubernetesVersion``'s default (``Pulumi.yaml``): standard support until 2027-08-02."""


def release(version: str) -> KubernetesRelease:
    """The pinned release of ``version``; KeyError naming the ones there are."""
    try:
        return RELEASES[version]
    except KeyError:
        raise KeyError(f"no pinned release for Kubernetes {version!r}; one of "
                       f"{', '.join(RELEASES)} (infra/kubernetes_versions.py)") from None


def support_problems(version: str, support_type: str, today: date) -> list[str]:
    """Why ``version`` may not be deployed ``today`` with this upgrade policy (empty: it may)."""
    if version not in RELEASES:
        return [f"kubernetesVersion must be one of {tuple(RELEASES)} (each pins its add-ons, AMI "
                f"and charts in infra/kubernetes_versions.py), not {version!r}"]
    pinned = RELEASES[version]
    end = pinned.end_of_support(support_type)
    if today < end:
        return []
    if support_type == "STANDARD":
        return [f"kubernetesVersion {version} left EKS standard support on {end}: with "
                "clusterSupportType STANDARD, AWS upgrades the control plane by itself and the "
                "next `up` plans a downgrade EKS refuses. Raise kubernetesVersion one minor "
                "(docs/deploying.md, Upgrading Kubernetes), or set clusterSupportType EXTENDED "
                "for up to a year at six times the control-plane price"]
    return [f"kubernetesVersion {version} left EKS extended support on {end}: AWS upgrades it "
            "by itself; raise kubernetesVersion one minor (docs/deploying.md)"]


def support_warnings(version: str, support_type: str, today: date) -> list[str]:
    """What ``today`` is close to for ``version`` (empty when nothing is)."""
    if version not in RELEASES or support_problems(version, support_type, today):
        return []
    pinned = RELEASES[version]
    warnings = []
    if support_type == "EXTENDED" and today >= pinned.end_of_standard_support:
        warnings.append(f"Kubernetes {version} is on EKS extended support since "
                        f"{pinned.end_of_standard_support}: the control plane costs six times "
                        "the standard price until you raise kubernetesVersion")
    left = (pinned.end_of_support(support_type) - today).days
    if left <= WARN_DAYS:
        warnings.append(f"Kubernetes {version} leaves EKS {support_type.lower()} support in "
                        f"{left} days ({pinned.end_of_support(support_type)}): raise "
                        "kubernetesVersion one minor before then (docs/deploying.md)")
    return warnings


_PINNED: list[date] = []
"""The days pinned by ``pinned_today``, innermost last."""


def today() -> date:
    """The date support windows are judged on: the machine's, unless a run pinned one."""
    return _PINNED[-1] if _PINNED else date.today()


@contextlib.contextmanager
def pinned_today(day: date) -> Iterator[None]:
    """Judge support windows as on ``day`` (simulated runs and tests), then as before."""
    _PINNED.append(day)
    try:
        yield
    finally:
        _PINNED.pop()
