#!/usr/bin/env python3
"""Offline checks of deploy/observability/ (run by deploy/validate.sh).

- Every PromQL query in the Grafana dashboard and the alert rules names only
  metrics listed in metrics.txt (histograms through _bucket/_sum/_count), and
  only labels those metrics carry (plus the scrape target's labels).
- Every metric in metrics.txt is shown by the dashboard.
- The dashboard JSON is what grafana/dashboard.py generates, panel ids are
  unique, every panel has queries, the required alerts exist with severity
  and annotations.
- The OpenTelemetry Collector config references only components it defines.
- `--promql-rules FILE` writes every dashboard query as a recording rule
  (Grafana variables replaced) so `promtool check rules FILE` parses them.

Exit status 1 with one line per problem.
"""

import argparse
import json
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
METRICS = os.path.join(HERE, "metrics.txt")
DASHBOARD = os.path.join(HERE, "grafana", "dashboards", "docflow.json")
ALERTS = os.path.join(HERE, "prometheus", "alerts.yml")
OTEL = os.path.join(HERE, "otel-collector.yaml")

# Labels Prometheus attaches from the scrape target (not from the code):
# job/instance always; service from the Compose relabelling; the rest from
# the Prometheus Operator's ServiceMonitor on Kubernetes.
TARGET_LABELS = {"job", "instance", "service", "namespace", "pod", "container", "endpoint"}
# Series Prometheus itself produces.
BUILTIN_SERIES = {"up": set()}

REQUIRED_ALERTS = {
    "DocflowConsumerLagGrowing", "DocflowDLQRateHigh", "DocflowNoThroughput",
    "DocflowCircuitOpen", "DocflowErrorRatioHigh",
}

PROMQL_FUNCTIONS = {
    "abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
    "count_over_time", "day_of_month", "day_of_week", "delta", "deriv", "exp", "floor", "histogram_quantile",
    "holt_winters", "hour", "idelta", "increase", "irate", "label_join", "label_replace", "last_over_time", "ln",
    "log2", "log10", "max_over_time", "min_over_time", "minute", "month", "predict_linear", "quantile_over_time",
    "rate", "resets", "round", "scalar", "sort", "sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time",
    "sum_over_time", "time", "timestamp", "vector", "year",
    # aggregations
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile",
    # Grafana variable query
    "label_values",
}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile"}


def load_metrics(path=METRICS):
    """metrics.txt -> {series name: set(labels)} with histogram suffixes expanded, and the base names."""
    series, bases = {}, {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 3 or parts[1] not in {"counter", "gauge", "histogram"}:
                raise SystemExit(f"{path}:{n}: expected 'NAME counter|gauge|histogram LABELS', got {line!r}")
            name, kind, labels = parts
            if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", name):
                raise SystemExit(f"{path}:{n}: {name!r} is not a Prometheus metric name")
            if kind == "counter" and not name.endswith("_total"):
                raise SystemExit(f"{path}:{n}: counter {name} must end in _total (Prometheus convention)")
            lset = set() if labels == "-" else set(labels.split(","))
            bases[name] = kind
            if kind == "histogram":
                series[name + "_bucket"] = lset | {"le"}
                series[name + "_sum"] = lset
                series[name + "_count"] = lset
            else:
                series[name] = lset
    return series, bases


def base_name(series_name, bases):
    for suffix in ("_bucket", "_sum", "_count"):
        if series_name.endswith(suffix) and bases.get(series_name[: -len(suffix)]) == "histogram":
            return series_name[: -len(suffix)]
    return series_name


TOKEN = re.compile(
    r'(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')'
    r"|(?P<range>\[[^\]]*\])"
    r"|(?P<var>\$\{?[A-Za-z_][A-Za-z0-9_]*\}?)"
    r"|(?P<dur>(?:\d+(?:ms|[smhdwy]))+(?![A-Za-z0-9_:]))"
    r"|(?P<num>\d+(?:\.\d+)?(?:e[+-]?\d+)?)"
    r"|(?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)"
    r"|(?P<op>==|!=|=~|!~|>=|<=|[-+*/%^<>=(){},])"
    r"|(?P<ws>\s+)"
)


def tokenize(expr):
    pos, out = 0, []
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot read PromQL at {expr[pos:pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup
        if kind != "ws":
            out.append((kind, m.group()))
    return out


def analyse(expr):
    """Returns ([(metric, {matcher labels})], {grouping labels}, [label_values label args])."""
    toks = tokenize(expr)
    selectors, grouping, lv_labels = [], set(), []
    i = 0
    while i < len(toks):
        kind, val = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else None
        if kind == "ident" and val in GROUPING and nxt == "(":
            j = i + 2
            while toks[j][1] != ")":
                if toks[j][0] == "ident":
                    grouping.add(toks[j][1])
                j += 1
            i = j + 1
            continue
        if kind == "ident" and val == "label_values" and nxt == "(":
            # label_values(selector, label) or label_values(label)
            depth, j, last_ident = 0, i + 1, None
            while j < len(toks):
                if toks[j][1] == "(":
                    depth += 1
                elif toks[j][1] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                elif toks[j][0] == "ident" and depth == 1 and toks[j - 1][1] in {",", "("} and toks[j + 1][1] == ")":
                    last_ident = (j, toks[j][1])
                j += 1
            if last_ident:
                lv_labels.append(last_ident[1])
                toks = toks[: last_ident[0]] + toks[last_ident[0] + 1:]
            i += 1
            continue
        if kind == "ident" and val in AGGREGATIONS and nxt in GROUPING:
            i += 1  # `sum by (x) (...)`: the grouping clause is read next
            continue
        if kind == "ident" and nxt == "(":
            if val not in PROMQL_FUNCTIONS:
                raise ValueError(f"unknown PromQL function {val!r}")
            i += 1
            continue
        if kind == "ident" and val.lower() in KEYWORDS:
            i += 1
            continue
        if kind == "ident":
            labels = set()
            j = i + 1
            if nxt == "{":
                j = i + 2
                while toks[j][1] != "}":
                    if toks[j][0] == "ident" and toks[j + 1][1] in {"=", "!=", "=~", "!~"}:
                        labels.add(toks[j][1])
                    j += 1
                j += 1
            selectors.append((val, labels))
            i = j
            continue
        i += 1
    return selectors, grouping, lv_labels


def check_expr(where, expr, series, bases, used, problems):
    try:
        selectors, grouping, lv_labels = analyse(expr)
    except (ValueError, IndexError) as e:
        problems.append(f"{where}: {e}: {expr}")
        return
    if not selectors:
        problems.append(f"{where}: query names no metric: {expr}")
    known = {}
    for name, labels in selectors:
        if name in BUILTIN_SERIES:
            known[name] = TARGET_LABELS | BUILTIN_SERIES[name]
            continue
        if name not in series:
            hint = " (histograms are queried as _bucket/_sum/_count)" if name in bases else ""
            problems.append(f"{where}: metric {name!r} is not in metrics.txt{hint}")
            continue
        used.add(base_name(name, bases))
        allowed = series[name] | TARGET_LABELS
        known[name] = allowed
        for l in sorted(labels - allowed):
            problems.append(f"{where}: {name} has no label {l!r} (metrics.txt lists {sorted(series[name]) or 'none'})")
    every = set().union(*known.values()) if known else TARGET_LABELS
    for l in sorted((grouping | set(lv_labels)) - every):
        problems.append(f"{where}: groups or lists by label {l!r}, which none of {sorted(known)} has")


def dashboard_queries(dash):
    for p in dash.get("panels", []):
        for t in p.get("targets", []):
            yield f"dashboard panel {p.get('id')} ({p.get('title')!r}) {t.get('refId')}", t.get("expr", "")
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            yield f"dashboard variable ${v.get('name')}", q.get("query") if isinstance(q, dict) else q


def check_dashboard(series, bases, problems):
    with open(DASHBOARD, encoding="utf-8") as f:
        dash = json.load(f)
    sys.path.insert(0, os.path.join(HERE, "grafana"))
    import dashboard as gen  # noqa: E402  (the generator next to the JSON)

    with open(DASHBOARD, encoding="utf-8") as f:
        if f.read() != gen.render():
            problems.append(f"{DASHBOARD} is stale: run python3 deploy/observability/grafana/dashboard.py")
    ids = [p.get("id") for p in dash["panels"]]
    if len(ids) != len(set(ids)):
        problems.append("dashboard: panel ids are not unique")
    for p in dash["panels"]:
        if p["type"] != "row" and not p.get("targets"):
            problems.append(f"dashboard panel {p.get('id')} ({p.get('title')!r}) has no query")
        gp = p.get("gridPos", {})
        if gp.get("x", 0) + gp.get("w", 0) > 24:
            problems.append(f"dashboard panel {p.get('id')} is wider than the grid")
    used = set()
    for where, expr in dashboard_queries(dash):
        check_expr(where, expr, series, bases, used, problems)
    for missing in sorted(set(bases) - used):
        problems.append(f"dashboard shows no panel for metric {missing} (listed in metrics.txt)")
    return dash


def check_alerts(series, bases, problems):
    with open(ALERTS, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    names = set()
    used = set()
    for g in doc.get("groups", []):
        for r in g.get("rules", []):
            name = r.get("alert") or r.get("record")
            names.add(name)
            check_expr(f"alert {name}", r.get("expr", ""), series, bases, used, problems)
            if "alert" in r:
                if r.get("labels", {}).get("severity") not in {"warning", "critical", "info"}:
                    problems.append(f"alert {name}: labels.severity must be warning|critical|info")
                for a in ("summary", "description"):
                    if not r.get("annotations", {}).get(a):
                        problems.append(f"alert {name}: annotation {a!r} missing")
                if not r.get("for"):
                    problems.append(f"alert {name}: no 'for' (alerts must hold before firing)")
    for missing in sorted(REQUIRED_ALERTS - names):
        problems.append(f"alerts.yml: required alert {missing} missing")


def check_otel(problems):
    with open(OTEL, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    service = cfg.get("service", {})
    for ext in service.get("extensions", []):
        if ext not in (cfg.get("extensions") or {}):
            problems.append(f"otel-collector.yaml: service.extensions names undefined {ext!r}")
    pipelines = service.get("pipelines") or {}
    if not pipelines:
        problems.append("otel-collector.yaml: no pipelines")
    defined_used = {k: set() for k in ("receivers", "processors", "exporters")}
    for pname, p in pipelines.items():
        if pname.split("/")[0] not in {"traces", "metrics", "logs"}:
            problems.append(f"otel-collector.yaml: pipeline {pname!r} is not traces|metrics|logs")
        for kind in ("receivers", "exporters"):
            if not p.get(kind):
                problems.append(f"otel-collector.yaml: pipeline {pname} has no {kind}")
        for kind in ("receivers", "processors", "exporters"):
            for comp in p.get(kind) or []:
                defined_used[kind].add(comp)
                if comp not in (cfg.get(kind) or {}):
                    problems.append(f"otel-collector.yaml: pipeline {pname} uses undefined {kind[:-1]} {comp!r}")
    for kind, used in defined_used.items():
        for comp in sorted(set(cfg.get(kind) or {}) - used):
            problems.append(f"otel-collector.yaml: {kind[:-1]} {comp!r} is defined but in no pipeline")
    if "traces" not in pipelines or "metrics" not in pipelines:
        problems.append("otel-collector.yaml: needs a traces and a metrics pipeline")


def promql_rules(dash):
    """Dashboard queries as recording rules, Grafana variables replaced."""
    subst = {"$__rate_interval": "5m", "$job": ".*", "$stage": ".*", "${datasource}": "prometheus"}
    rules = []
    for n, (where, expr) in enumerate(dashboard_queries(dash)):
        if expr.startswith("label_values("):
            continue  # Grafana's own syntax, not PromQL
        for k, v in subst.items():
            expr = expr.replace(k, v)
        rules.append({"record": f"docflow:dashboard_query:{n}", "expr": expr})
    return {"groups": [{"name": "dashboard-queries", "rules": rules}]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--promql-rules", metavar="FILE", help="write dashboard queries as recording rules for promtool")
    args = ap.parse_args()
    problems = []
    series, bases = load_metrics()
    dash = check_dashboard(series, bases, problems)
    check_alerts(series, bases, problems)
    check_otel(problems)
    if args.promql_rules:
        with open(args.promql_rules, "w", encoding="utf-8") as f:
            yaml.safe_dump(promql_rules(dash), f, sort_keys=False)
    for p in problems:
        print(f"observability: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"observability: dashboard, alerts and collector config OK against {len(bases)} metrics in metrics.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
