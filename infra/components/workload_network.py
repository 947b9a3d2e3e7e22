"""The services' NetworkPolicies: default deny, then exactly what each process needs.

Built by the ``Workloads`` component (``args`` is its ``WorkloadsArgs``; ``meta(name)`` gives an
object's metadata in the services' namespace; ``opts`` parents each policy to the component).
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_kubernetes as k8s

from infra.components.pod_spec import WorkloadSpec, labels

DNS_PORT = 53
HTTPS_PORT = 443


def allow_ingress(logical: str, spec: WorkloadSpec, collector, metadata: dict,
                  opts: pulumi.ResourceOptions) -> k8s.networking.v1.NetworkPolicy:
    """Who may connect to one workload's port: anyone for an API; the collector (``collector``:
    the ``CollectorAccess``, None without one) to every process's metrics port."""
    port = [{"port": spec.port, "protocol": "TCP"}]
    # Clients arrive through the NLB, whose security group already limits them to the
    # configured CIDRs; client IPs are preserved, so any source may reach an API's port.
    rules: list[dict] = [{"ports": port}] if spec.node_port else []
    if collector is not None:
        # Scraped by intent: the collector's pods, on the port /metrics answers on, whatever the
        # other rules admit. (A daemon's probes need no rule: the kubelet connects from the
        # node's own address, which the VPC CNI's policy agent always admits.)
        rules.append({"from": [{
            "namespace_selector": {"match_labels": {
                "kubernetes.io/metadata.name": collector.namespace}},
            "pod_selector": {"match_labels": collector.pod_labels}}], "ports": port})
    return k8s.networking.v1.NetworkPolicy(
        f"{logical}-ingress", metadata=metadata,
        spec={"pod_selector": {"match_labels": labels(spec.name)},
              "policy_types": ["Ingress"], "ingress": rules},
        opts=opts)


def egress_policies(prefix: str, args, meta: Callable[[str], dict],
                    opts: pulumi.ResourceOptions) -> list[k8s.networking.v1.NetworkPolicy]:
    """Default deny, and the egress every pod needs: DNS, AWS endpoints, the database, and the
    cache and collector when the stack has them."""
    everyone: dict[str, object] = {}
    policies = {
        "default-deny": {"pod_selector": everyone, "policy_types": ["Ingress", "Egress"]},
        "allow-dns": {"pod_selector": everyone, "policy_types": ["Egress"], "egress": [{
            "to": [{"namespace_selector": {"match_labels": {
                        "kubernetes.io/metadata.name": "kube-system"}},
                    "pod_selector": {"match_labels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"port": DNS_PORT, "protocol": "UDP"},
                      {"port": DNS_PORT, "protocol": "TCP"}]}]},
        # AWS APIs are reached through the VPC's interface endpoints only.
        "allow-aws-endpoints": {"pod_selector": everyone, "policy_types": ["Egress"],
                                "egress": [{"to": [{"ip_block": {"cidr": args.vpc_cidr}}],
                                            "ports": [{"port": HTTPS_PORT,
                                                       "protocol": "TCP"}]}]},
        "allow-database": {"pod_selector": everyone, "policy_types": ["Egress"],
                           "egress": [{"to": [{"ip_block": {"cidr": cidr}}
                                              for cidr in args.database_cidrs],
                                       "ports": [{"port": args.database_port,
                                                  "protocol": "TCP"}]}]},
    }
    if args.cache is not None:
        # Only the processes that read the cache reach it, and only on its port.
        policies["allow-cache"] = {
            "pod_selector": {"match_expressions": [{
                "key": "app.kubernetes.io/name", "operator": "In",
                "values": list(args.cache.roles)}]},
            "policy_types": ["Egress"],
            "egress": [{"to": [{"ip_block": {"cidr": cidr}} for cidr in args.cache.cidrs],
                        "ports": [{"port": args.cache.port, "protocol": "TCP"}]}]}
    if args.collector is not None:
        policies["allow-telemetry"] = {
            "pod_selector": everyone, "policy_types": ["Egress"],
            "egress": [{"to": [{"namespace_selector": {"match_labels": {
                            "kubernetes.io/metadata.name": args.collector.namespace}}}],
                        "ports": [{"port": port, "protocol": "TCP"}
                                  for port in args.collector.otlp_ports]}]}
    return [k8s.networking.v1.NetworkPolicy(f"{prefix}-{policy_name}",
                                            metadata=meta(policy_name), spec=spec, opts=opts)
            for policy_name, spec in policies.items()]
