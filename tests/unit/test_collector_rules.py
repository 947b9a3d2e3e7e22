"""The test's model of the collector (``tests.support.collector_rules``) behaves as Prometheus's
relabelling, Go's ``regexp.Expand`` and the awsemf exporter are documented to: the mapping test
is only as good as this model."""

from __future__ import annotations

import re

import pytest

from tests.support import collector_rules as rules

STATUS_CLASS = re.compile(r"(?s:(\d)\d\d)")


@pytest.mark.parametrize(("template", "expected"), [
    ("${1}xx", "5xx"),
    ("$1xx", ""),          # Go reads the group named "1xx": there is none
    ("$1", "5"),
    ("$$1", "$1"),         # $$ is a literal $
    ("${1", "${1"),        # malformed: kept as text
    ("$", "$"),
    ("$01", ""),           # a leading zero makes it a name, not a number
    ("$2", ""),            # no such group
    ("a$0b", "a"),          # the name is "0b"
    ("a${0}b", "a503b"),
])
def test_expand_follows_go(template, expected):
    assert rules.expand(template, STATUS_CLASS.fullmatch("503")) == expected


def test_expand_named_groups():
    match = re.fullmatch(r"(?P<host>[^:]+):(?P<port>\d+)", "10.0.0.1:80")
    assert rules.expand("${host}-$port", match) == "10.0.0.1-80"
    assert rules.expand("$host_x", match) == ""  # the name is host_x


def test_replace_with_an_empty_result_deletes_the_target_label():
    rule = {"source_labels": ["status"], "regex": r"(\d)\d\d", "target_label": "status_class",
            "replacement": "$1xx", "action": "replace"}
    assert rules.relabel({"status": "503", "status_class": "old"}, [rule]) == {"status": "503"}
    assert rules.relabel({"status": "503"}, [{**rule, "replacement": "${1}xx"}]) == {
        "status": "503", "status_class": "5xx"}
    # The regex is anchored: "5030" does not match, nothing changes.
    assert rules.relabel({"status": "5030"}, [{**rule, "replacement": "${1}xx"}]) == {
        "status": "5030"}


def test_defaults_separator_keep_and_drop():
    joined = {"source_labels": ["a", "b"], "target_label": "c"}  # regex (.*), replacement $1
    assert rules.relabel({"a": "x", "b": "y"}, [joined])["c"] == "x;y"
    assert rules.relabel({"a": "x"}, [{"source_labels": ["a"], "regex": "x", "action": "keep"}])
    assert rules.relabel({"a": "xx"}, [{"source_labels": ["a"], "regex": "x",
                                       "action": "keep"}]) is None
    assert rules.relabel({"a": "x"}, [{"source_labels": ["a"], "regex": "x",
                                      "action": "drop"}]) is None
    constant = {"target_label": "__name__", "replacement": "renamed"}
    assert rules.relabel({"__name__": "old"}, [constant]) == {"__name__": "renamed"}


def test_label_actions():
    labels = {"__meta_kubernetes_pod_label_app": "w", "pod": "p", "keep_me": "k"}
    mapped = rules.relabel(labels, [{"regex": "__meta_kubernetes_pod_label_(.+)",
                                     "action": "labelmap"}])
    assert mapped == {**labels, "app": "w"}
    assert rules.relabel(labels, [{"regex": "pod|keep_me", "action": "labelkeep"}]) == {
        "pod": "p", "keep_me": "k"}
    assert rules.relabel(labels, [{"regex": "pod", "action": "labeldrop"}]) == {
        "__meta_kubernetes_pod_label_app": "w", "keep_me": "k"}


def test_a_lone_dollar_is_refused_and_a_double_one_unescaped():
    assert rules.unescape({"r": ["$${1}xx", "^name$"]}) == {"r": ["${1}xx", "^name$"]}
    with pytest.raises(ValueError, match="environment variable"):
        rules.unescape("${1}xx")


def test_awsemf_keeps_a_dimension_set_only_when_every_label_is_there():
    declarations = [{"metric_name_selectors": ["^requests$"],
                     "label_matchers": [{"label_names": ["status"], "regex": ".+"}],
                     "dimensions": [["service"], ["service", "status_class"]]}]
    emf = {"namespace": "ns", "metric_declarations": declarations}

    def point(**labels):
        return rules.Point("requests", "counter", frozenset(labels.items()))
    assert rules.cloudwatch_metrics([point(service="a", status="200")], emf) == {
        ("ns", "requests", frozenset({("service", "a")}))}
    assert ("ns", "requests", frozenset({("service", "a"), ("status_class", "5xx")})) in \
        rules.cloudwatch_metrics([point(service="a", status="503", status_class="5xx")], emf)
    # No status label: the matcher reads "" against ".+", the declaration does not apply.
    assert rules.cloudwatch_metrics([point(service="a", le="0.5")], emf) == set()
    # Selectors are unanchored unless they say so.
    loose = {**emf, "metric_declarations": [{**declarations[0], "metric_name_selectors": ["req"],
                                             "label_matchers": []}]}
    assert rules.cloudwatch_metrics([point(service="a")], loose) == {
        ("ns", "requests", frozenset({("service", "a")}))}


def test_the_receiver_types_a_renamed_bucket_series_as_the_counter_it_is_named_after():
    text = ("# TYPE req_total counter\nreq_total{status=\"200\"} 3.0\n"
            "# TYPE lat_seconds histogram\nlat_seconds_bucket{le=\"0.5\"} 2.0\n"
            "lat_seconds_bucket{le=\"+Inf\"} 3.0\nlat_seconds_sum 0.7\nlat_seconds_count 3.0\n")
    job = {"job_name": "j", "metric_relabel_configs": [
        {"source_labels": ["__name__"], "regex": "lat_seconds_bucket", "action": "keep"},
        {"target_label": "__name__", "replacement": "req_total"}]}
    target = rules.Target("10.0.0.1:80", "/metrics", {"job": "j", "instance": "x", "service": "s"})
    assert rules.receive(text, job, target) == {
        rules.Point("req_total", "counter", frozenset({("le", "0.5"), ("service", "s")})),
        rules.Point("req_total", "counter", frozenset({("le", "+Inf"), ("service", "s")}))}
    plain = rules.receive(text, {"job_name": "j"}, target)
    assert rules.Point("lat_seconds", "histogram", frozenset({("service", "s")})) in plain
    assert rules.Point("req_total", "counter",
                       frozenset({("status", "200"), ("service", "s")})) in plain
