"""The ADOT collector's own rules, applied to a real ``/metrics``: which CloudWatch metrics the
generated collector config makes of a scrape, so a test can check that every alarm and widget
reads one.

Each step follows the component that does it, as documented and coded upstream:
- the Kubernetes pod discovery's meta labels (``__meta_kubernetes_pod_annotation_*`` ...);
- Prometheus ``relabel_config`` (``prometheus/model/relabel``): source labels joined by the
  separator, the regex anchored (``^(?s:...)$``), ``$1``/``${name}`` expanded as Go's
  ``regexp.Expand`` does (``$1xx`` names the group ``1xx``, which does not exist: empty), an
  empty result deleting the target label; actions replace, keep, drop, labelmap, labeldrop,
  labelkeep;
- the scrape: ``job``/``__metrics_path__`` defaults, ``instance`` from ``__address__``, ``__``
  labels dropped, target labels over the scraped ones (``exported_``), metric relabelling;
- the Prometheus receiver: a sample's type from the ``# TYPE`` metadata (the name itself, else
  with ``_bucket``/``_count``/``_sum``/``_total``/``_created`` trimmed; a counter keeps its
  name), ``job`` and ``instance`` to the resource, a histogram's ``le`` consumed;
- the ``filter`` processor (strict names), and the ``awsemf`` exporter's ``metric_declarations``
  (label matchers OR-ed over values joined by their separator, unanchored name selectors,
  dimension sets kept only when every label is present).
The collector's ``$$`` escape is undone first, as its config loader does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

Labels = dict[str, str]
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_TRIMMED = ("_bucket", "_count", "_sum", "_total", "_info", "_created")
OTEL_SCOPE = "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/prometheusreceiver"


def unescape(value):
    """A collector config value as the collector reads it: ``$$`` is a literal ``$``; a ``$``
    before a name or a brace would be an environment variable (refused), elsewhere it is text."""
    if isinstance(value, str):
        if re.search(r"\$[{\w]", value.replace("$$", "")):
            raise ValueError(f"{value!r}: a lone $ is an environment variable to the collector")
        return value.replace("$$", "$")
    if isinstance(value, Mapping):
        return {key: unescape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unescape(item) for item in value]
    return value


def expand(template: str, match: re.Match) -> str:
    """Go's ``regexp.Expand``: ``$$`` is ``$``, ``$name``/``${name}`` the group's text (the
    longest name of letters, digits and ``_``; empty when no such group matched)."""
    out, rest = [], template
    while "$" in rest:
        before, rest = rest.split("$", 1)
        out.append(before)
        if rest.startswith("$"):
            out.append("$")
            rest = rest[1:]
            continue
        name, rest_after = _group_name(rest)
        if name is None:
            out.append("$")  # malformed: the $ is kept as text
            continue
        rest = rest_after
        out.append(_group_text(match, name))
    return "".join(out) + rest


def _group_name(text: str) -> tuple[str | None, str]:
    brace = text.startswith("{")
    body = text[1:] if brace else text
    size = 0
    while size < len(body) and (body[size].isalnum() or body[size] == "_"):
        size += 1
    if size == 0 or (brace and body[size:size + 1] != "}"):
        return None, text
    return body[:size], body[size + (1 if brace else 0):]


def _group_text(match: re.Match, name: str) -> str:
    if name.isdigit() and (name == "0" or not name.startswith("0")):
        number = int(name)
        return (match.group(number) or "") if number <= match.re.groups else ""
    return (match.groupdict().get(name) or "") if name in match.re.groupindex else ""


def relabel(labels: Mapping[str, str], rules: Iterable[Mapping]) -> Labels | None:
    """Apply relabel_configs in order; None when a keep or drop rule drops the target/sample."""
    current = dict(labels)
    for rule in rules:
        regex = re.compile(f"(?s:{rule.get('regex', '(.*)')})")
        value = rule.get("separator", ";").join(current.get(name, "")
                                                for name in rule.get("source_labels", []))
        action = rule.get("action", "replace")
        if action in ("keep", "drop") and (regex.fullmatch(value) is None) == (action == "keep"):
            return None
        if action == "replace":
            _replace(current, rule, regex.fullmatch(value))
        elif action in ("labelmap", "labeldrop", "labelkeep"):
            _by_name(current, action, regex, rule.get("replacement", "$1"))
    return current


def _replace(labels: Labels, rule: Mapping, match: re.Match | None) -> None:
    if match is None:
        return  # no match, no change
    target = expand(rule["target_label"], match)
    result = expand(rule.get("replacement", "$1"), match)
    if not _LABEL_NAME.fullmatch(target):
        return
    if result:
        labels[target] = result
    else:
        labels.pop(target, None)  # an empty value deletes the label


def _by_name(labels: Labels, action: str, regex: re.Pattern, replacement: str) -> None:
    for name in list(labels):
        match = regex.fullmatch(name)
        if action == "labelmap" and match:
            labels[expand(replacement, match)] = labels[name]
        elif (action == "labeldrop" and match) or (action == "labelkeep" and not match):
            del labels[name]


def pod_targets(template: Mapping, namespace: str, pod_name: str, pod_ip: str) -> list[Labels]:
    """The kubernetes_sd ``pod`` role's targets for a pod of ``template``: one per port."""
    def sanitized(name: str) -> str:
        return re.sub(r"[^a-zA-Z0-9_]", "_", name)
    meta = {"__meta_kubernetes_namespace": namespace, "__meta_kubernetes_pod_name": pod_name,
            "__meta_kubernetes_pod_ip": pod_ip}
    for kind in ("label", "annotation"):
        for key, value in template["metadata"].get(f"{kind}s", {}).items():
            meta[f"__meta_kubernetes_pod_{kind}_{sanitized(key)}"] = value
            meta[f"__meta_kubernetes_pod_{kind}present_{sanitized(key)}"] = "true"
    targets = [{**meta, "__address__": f"{pod_ip}:{port['containerPort']}",
                "__meta_kubernetes_pod_container_name": container["name"],
                "__meta_kubernetes_pod_container_port_number": str(port["containerPort"]),
                "__meta_kubernetes_pod_container_port_name": port.get("name", "")}
               for container in template["spec"]["containers"]
               for port in container.get("ports", [])]
    return targets or [{**meta, "__address__": pod_ip}]


@dataclass(frozen=True)
class Target:
    """A scrape target after relabelling: where it is scraped, and the labels it adds."""

    address: str
    path: str
    labels: Labels


def scrape_target(job: Mapping, discovered: Mapping[str, str]) -> Target | None:
    """What Prometheus makes of a discovered target in ``job`` (None: relabelled away)."""
    defaults = {"job": job["job_name"], "__metrics_path__": job.get("metrics_path", "/metrics"),
                "__scheme__": job.get("scheme", "http")}
    labels = relabel({**defaults, **discovered}, job.get("relabel_configs", []))
    if labels is None:
        return None
    kept = {k: v for k, v in labels.items() if not k.startswith("__")}
    kept.setdefault("instance", labels["__address__"])
    return Target(labels["__address__"], labels["__metrics_path__"], kept)


@dataclass(frozen=True)
class Point:
    """One OTel data point as the Prometheus receiver makes it."""

    metric: str
    kind: str
    attributes: frozenset[tuple[str, str]]


def receive(exposition: str, job: Mapping, target: Target) -> set[Point]:
    """The data points the receiver makes of one scrape of ``target`` in ``job``."""
    metadata = dict(re.findall(r"^# TYPE (\S+) (\S+)$", exposition, re.MULTILINE))
    points = set()
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            labels = {(f"exported_{k}" if k in target.labels else k): v
                      for k, v in sample.labels.items()}
            labels = relabel({**labels, **target.labels, "__name__": sample.name},
                             job.get("metric_relabel_configs", []))
            if labels is not None:
                points.add(_point(labels, metadata))
    return points


def _point(labels: Labels, metadata: Mapping[str, str]) -> Point:
    name = labels.pop("__name__")
    family, kind = name, metadata.get(name)
    if kind is None:
        trimmed = next((name.removesuffix(s) for s in _TRIMMED if name.endswith(s) and name != s),
                       name)
        kind = metadata.get(trimmed, "unknown")
        family = name if kind == "counter" else trimmed if kind != "unknown" else name
    consumed = {"job", "instance", *(("le", "quantile") if kind in ("histogram", "summary")
                                     else ())}
    attributes = frozenset((k, v) for k, v in labels.items()
                           if k not in consumed and not k.startswith("__"))
    return Point(family, {"unknown": "gauge"}.get(kind, kind), attributes)


def kept_by_filter(points: Iterable[Point], processor: Mapping) -> set[Point]:
    """The ``filter`` processor with a strict ``metrics.include`` list."""
    include = processor["metrics"]["include"]
    assert include["match_type"] == "strict", include
    return {p for p in points if p.metric in include["metric_names"]}


def cloudwatch_metrics(points: Iterable[Point], emf: Mapping) -> set[tuple]:
    """The CloudWatch metrics ``awsemf`` makes: (namespace, name, frozenset of dimensions)."""
    made = set()
    for point in points:
        labels = {**dict(point.attributes), "OTelLib": OTEL_SCOPE}
        for dimensions in _dimension_sets(point.metric, labels, emf["metric_declarations"]):
            made.add((emf["namespace"], point.metric,
                      frozenset((d, labels[d]) for d in dimensions)))
    return made


def _dimension_sets(name: str, labels: Labels, declarations: list[Mapping]) -> list[tuple]:
    sets = []
    for declaration in declarations:
        matchers = declaration.get("label_matchers", [])
        if matchers and not any(_label_match(m, labels) for m in matchers):
            continue
        if not any(re.search(s, name) for s in declaration["metric_name_selectors"]):
            continue
        sets += [tuple(sorted(d)) for d in declaration["dimensions"]
                 if all(label in labels for label in d)]
    return sorted(set(sets))


def _label_match(matcher: Mapping, labels: Labels) -> bool:
    joined = matcher.get("separator") or ";"
    value = joined.join(labels.get(name, "") for name in matcher["label_names"])
    return re.search(matcher["regex"], value) is not None
