"""The test's NetworkPolicy evaluator (``tests.support.network_policies``) on the cases the
Kubernetes documentation spells out."""

from __future__ import annotations

from tests.support.network_policies import Cluster, Endpoint, selects

WEB = Endpoint("10.0.0.10", "shop", {"app": "web"}, {"http": 8080}, node_ip="10.0.0.1")
DB = Endpoint("10.0.0.11", "shop", {"app": "db"})
OTHER = Endpoint("10.0.1.5", "lab", {"app": "web"})
NAMESPACES = {"shop": {"team": "a"}, "lab": {"team": "b"}}


def policy(namespace: str, spec: dict) -> dict:
    return {"metadata": {"namespace": namespace}, "spec": spec}


def test_no_policy_admits_everything_and_default_deny_nothing():
    assert Cluster([], NAMESPACES).allows(OTHER, WEB, 8080)
    deny = policy("shop", {"podSelector": {}, "policyTypes": ["Ingress"]})
    assert not Cluster([deny], NAMESPACES).allows(DB, WEB, 8080)
    # The node the pod runs on is always let in (the CNI's allowance for probes).
    assert Cluster([deny], NAMESPACES).allows(Endpoint("10.0.0.1"), WEB, 8080)


def test_namespace_and_pod_selectors_in_one_peer_mean_both():
    both = policy("shop", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{
        "from": [{"namespaceSelector": {"matchLabels": {"team": "b"}},
                  "podSelector": {"matchLabels": {"app": "web"}}}]}]})
    cluster = Cluster([both], NAMESPACES)
    assert cluster.allows(OTHER, WEB, 8080)
    assert not cluster.allows(Endpoint("10.0.1.6", "lab", {"app": "db"}), WEB, 8080)
    assert not cluster.allows(DB, WEB, 8080)  # right labels needed, and the namespace


def test_a_pod_selector_alone_means_the_policys_namespace():
    same = policy("shop", {"podSelector": {}, "ingress": [{
        "from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]})
    cluster = Cluster([same], NAMESPACES)
    assert cluster.allows(WEB, DB, 5432)
    assert not cluster.allows(OTHER, DB, 5432)


def test_ip_blocks_with_exceptions_and_ports_by_number_range_or_name():
    spec = {"podSelector": {}, "ingress": [{
        "from": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.1.0/24"]}}],
        "ports": [{"port": "http"}, {"port": 9000, "endPort": 9010}]}]}
    cluster = Cluster([policy("shop", spec)], NAMESPACES)
    assert cluster.allows(DB, WEB, 8080)          # named port
    assert cluster.allows(DB, WEB, 9005)          # within the range
    assert not cluster.allows(DB, WEB, 9011)
    assert not cluster.allows(OTHER, WEB, 8080)   # in the excepted block


def test_egress_of_the_source_counts_too():
    no_way_out = policy("lab", {"podSelector": {}, "policyTypes": ["Egress"]})
    assert not Cluster([no_way_out], NAMESPACES).allows(OTHER, WEB, 8080)
    way_out = policy("lab", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
        "to": [{"namespaceSelector": {"matchLabels": {"team": "a"}}}]}]})
    assert Cluster([way_out], NAMESPACES).allows(OTHER, WEB, 8080)


def test_match_expressions():
    labels = {"app": "web", "tier": "front"}
    assert selects({"matchExpressions": [{"key": "app", "operator": "In",
                                          "values": ["web", "api"]}]}, labels)
    assert not selects({"matchExpressions": [{"key": "tier", "operator": "NotIn",
                                              "values": ["front"]}]}, labels)
    assert selects({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}, labels)
    assert not selects({"matchExpressions": [{"key": "x", "operator": "Exists"}]}, labels)
