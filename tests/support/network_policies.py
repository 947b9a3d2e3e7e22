"""Kubernetes NetworkPolicy semantics, evaluated over synthesized policies: may this source
open a TCP connection to that pod's port?

As the API documents it (networking.k8s.io/v1): a pod is isolated for ingress (egress) once a
policy of its namespace selects it with that policy type; then a connection is allowed only if
some rule of those policies admits it, and it must pass both the source's egress and the
destination's ingress. A rule without ``from``/``to`` admits every peer, without ``ports`` every
port; a peer is an ``ipBlock`` (CIDR minus ``except``), or pods by ``podSelector`` in the
policy's namespace, or in the namespaces a ``namespaceSelector`` picks (both: pods matching in
those namespaces). Selectors: ``matchLabels`` and ``matchExpressions`` (In, NotIn, Exists,
DoesNotExist); empty selects all. One thing is the CNI's, not the API's: the VPC CNI's policy
agent always admits the node's own address to its pods, for the kubelet's probes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Endpoint:
    """A pod (with a namespace and labels) or a host (namespace None), at an address."""

    ip: str
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=dict)
    """A pod's named container ports."""
    node_ip: str | None = None
    """The address of the node a pod runs on."""


def selects(selector: Mapping | None, labels: Mapping[str, str]) -> bool:
    """A label selector against labels (an empty selector selects everything)."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get(
            "values", [])
        present = key in labels
        if not {"In": present and labels[key] in values,
                "NotIn": not present or labels[key] not in values,
                "Exists": present, "DoesNotExist": not present}[operator]:
            return False
    return True


class Cluster:
    """Namespaces (with their labels) and the NetworkPolicy objects of a cluster."""

    def __init__(self, policies: Iterable[Mapping], namespaces: Mapping[str, Mapping]) -> None:
        self._policies = [(p["metadata"]["namespace"], p["spec"]) for p in policies]
        self._namespaces = {name: {"kubernetes.io/metadata.name": name, **labels}
                            for name, labels in namespaces.items()}

    def allows(self, source: Endpoint, destination: Endpoint, port: int) -> bool:
        """Whether ``source`` may connect to ``destination`` on TCP ``port``."""
        if source.ip == destination.node_ip:
            return True  # the kubelet's probes: the CNI admits the node to its own pods
        return (self._passes(source, source, destination, port, "Egress")
                and self._passes(destination, source, destination, port, "Ingress"))

    def _passes(self, pod: Endpoint, source: Endpoint, destination: Endpoint, port: int,
                kind: str) -> bool:
        """Whether ``pod`` (the source for Egress, the destination for Ingress) lets it through."""
        if pod.namespace is None:
            return True  # a host is not subject to policies
        isolating = [(ns, spec) for ns, spec in self._policies
                     if ns == pod.namespace and selects(spec.get("podSelector"), pod.labels)
                     and kind in spec.get("policyTypes", ["Ingress"])]
        if not isolating:
            return True
        key, peers_key, peer = (("egress", "to", destination) if kind == "Egress"
                                else ("ingress", "from", source))
        return any(self._peers_admit(rule.get(peers_key), ns, peer)
                   and _ports_admit(rule.get("ports"), port, destination)
                   for ns, spec in isolating for rule in spec.get(key, []))

    def _peers_admit(self, peers: list | None, namespace: str, peer: Endpoint) -> bool:
        return not peers or any(self._is_peer(p, namespace, peer) for p in peers)

    def _is_peer(self, peer: Mapping, namespace: str, endpoint: Endpoint) -> bool:
        if "ipBlock" in peer:
            block = peer["ipBlock"]
            address = ipaddress.ip_address(endpoint.ip)
            return (address in ipaddress.ip_network(block["cidr"])
                    and not any(address in ipaddress.ip_network(c)
                                for c in block.get("except", [])))
        if endpoint.namespace is None:
            return False  # selectors pick pods, never hosts
        if "namespaceSelector" in peer:
            in_namespace = selects(peer["namespaceSelector"],
                                   self._namespaces.get(endpoint.namespace, {}))
        else:
            in_namespace = endpoint.namespace == namespace
        return in_namespace and selects(peer.get("podSelector"), endpoint.labels)


def _ports_admit(ports: list | None, port: int, target: Endpoint) -> bool:
    return not ports or any(_port_matches(p, port, target) for p in ports)


def _port_matches(entry: Mapping, port: int, target: Endpoint) -> bool:
    if entry.get("protocol", "TCP") != "TCP":
        return False
    wanted = entry.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str):
        wanted = target.ports.get(wanted)
    return wanted is not None and wanted <= port <= entry.get("endPort", wanted)
