#!/usr/bin/env python3
"""Generates dashboards/docflow.json, the Grafana dashboard over docflow's
Prometheus metrics (../metrics.txt).

The JSON is committed (Grafana provisioning and `kubectl create configmap
--from-file` read it as is); this script is its source. After editing:

    python3 deploy/observability/grafana/dashboard.py      # rewrite the JSON
    python3 deploy/observability/check.py                  # fails if stale

Rows: throughput, latency, lag & backpressure, utilisation, errors & DLQ,
encoder & GPU. Every query is filtered by the $job and (where the metric has
a stage label) $stage variables.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "dashboards", "docflow.json")

DS = {"type": "prometheus", "uid": "${datasource}"}
# Selector fragments for metrics with and without a stage label.
SEL = 'job=~"$job",stage=~"$stage"'
JOB = 'job=~"$job"'
RI = "$__rate_interval"


def target(expr, legend, ref):
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref, "range": True}


def panel(title, desc, exprs, unit="short", kind="timeseries", w=8, h=8, stack=False, extra=None):
    """One panel; `exprs` is a list of (expr, legend)."""
    p = {
        "type": kind,
        "title": title,
        "description": desc,
        "datasource": DS,
        "targets": [target(e, l, chr(ord("A") + i)) for i, (e, l) in enumerate(exprs)],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "gridPos": {"w": w, "h": h},
    }
    if kind == "timeseries":
        p["fieldConfig"]["defaults"]["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        }
        p["options"] = {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max", "lastNotNull"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}}
    if extra:
        for k, v in extra.items():
            p[k] = v
    return p


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "gridPos": {"w": 24, "h": 1}}


def rate(metric, sel=SEL):
    return f"rate({metric}{{{sel}}}[{RI}])"


def quantiles(metric, by, sel):
    return [
        (f"histogram_quantile({q}, sum by ({by}, le) ({rate(metric + '_bucket', sel)}))", f"{{{{{by.split(',')[0].strip()}}}}} p{int(q * 100)}")
        for q in (0.5, 0.95, 0.99)
    ]


def quantiles_nolabel(metric, sel, legend):
    return [(f"histogram_quantile({q}, sum by (le) ({rate(metric + '_bucket', sel)}))", f"{legend} p{int(q * 100)}")
            for q in (0.5, 0.95, 0.99)]


def panels():
    out = []
    out.append(row("Throughput"))
    out.append(panel("Records in / s", "Records consumed per second, per stage (docflow_records_in_total).",
                     [(f"sum by (stage) ({rate('docflow_records_in_total')})", "{{stage}}")], unit="ops"))
    out.append(panel("Records out / s", "Records produced per second, per stage, after the broker acknowledged them.",
                     [(f"sum by (stage) ({rate('docflow_records_out_total')})", "{{stage}}")], unit="ops"))
    out.append(panel("Replicas per stage", "Stage processes reporting metrics (one per pod / container).",
                     [(f"count by (stage) (docflow_in_flight{{{SEL}}})", "{{stage}}")], unit="short"))

    out.append(row("Latency"))
    out.append(panel("Processing time percentiles", "p50 / p95 / p99 of document_processing_duration_seconds per stage (histogram buckets 0.1 0.5 1 2 5 10 s).",
                     quantiles("document_processing_duration_seconds", "stage", SEL), unit="s", w=12))
    out.append(panel("Outcomes / s", "Documents finished per second by stage and outcome.",
                     [(f"sum by (stage, outcome) ({rate('document_processing_duration_seconds_count')})", "{{stage}} {{outcome}}")],
                     unit="ops", w=12, stack=True))

    out.append(row("Lag and backpressure"))
    out.append(panel("Consumer lag per stage", "Records waiting for each stage's consumer group (sum over partitions). This is KEDA's scaling signal.",
                     [(f"sum by (stage) (docflow_consumer_lag{{{SEL}}})", "{{stage}}")], unit="short"))
    out.append(panel("Consumer lag per partition", "Lag by stage, topic and partition: one hot partition means a skewed key.",
                     [(f"max by (stage, topic, partition) (docflow_consumer_lag{{{SEL}}})", "{{stage}} {{topic}}[{{partition}}]")], unit="short"))
    out.append(panel("Backpressure pauses / s", "Consumption pauses because the next stage's lag passed its high-water mark.",
                     [(f"sum by (stage) ({rate('docflow_backpressure_pauses_total')})", "{{stage}}")], unit="ops"))

    out.append(row("Utilisation"))
    out.append(panel("Worker utilisation", "Busy fraction of stage workers (agent_utilization_ratio), averaged over replicas.",
                     [(f"avg by (stage) (agent_utilization_ratio{{{SEL}}})", "{{stage}}")], unit="percentunit",
                     extra={"fieldConfig": {"defaults": {"unit": "percentunit", "min": 0, "max": 1,
                                                         "custom": {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
                                                                    "stacking": {"mode": "none", "group": "A"}}}, "overrides": []}}))
    out.append(panel("In flight", "Records taken from Kafka and not yet finished, per stage.",
                     [(f"sum by (stage) (docflow_in_flight{{{SEL}}})", "{{stage}}")], unit="short"))
    out.append(panel("Cache hits / s", "Hits per second by cache (cache_hits_total).",
                     [(f"sum by (cache) ({rate('cache_hits_total', JOB)})", "{{cache}}")], unit="ops"))

    out.append(row("Errors and DLQ"))
    out.append(panel("DLQ records / s", "Records sent to docs.dlq per second, by stage and reason.",
                     [(f"sum by (stage, reason) ({rate('docflow_dlq_records_total')})", "{{stage}} {{reason}}")], unit="ops", w=6, stack=True))
    out.append(panel("Error ratio", "Failed records / consumed records per stage.",
                     [(f"sum by (stage) ({rate('docflow_records_failed_total')}) / sum by (stage) ({rate('docflow_records_in_total')})", "{{stage}}")],
                     unit="percentunit", w=6))
    out.append(panel("Retries / s", "Retried operations per second (transient errors with backoff).",
                     [(f"sum by (stage) ({rate('docflow_retries_total')})", "{{stage}}")], unit="ops", w=6))
    out.append(panel("Circuit breaker", "1 while a stage's circuit breaker is open (its database or downstream is failing).",
                     [(f"max by (stage) (docflow_circuit_breaker_open{{{SEL}}})", "{{stage}}")], unit="bool_on_off", kind="state-timeline", w=6,
                     extra={"options": {"showValue": "never", "mergeValues": True, "rowHeight": 0.8}}))

    out.append(row("Encoder and GPU"))
    out.append(panel("Encoder batch size", "Documents per encoder batch (dynamic token-budget batching).",
                     quantiles_nolabel("docflow_encoder_batch_size", JOB, "docs"), unit="short", w=6))
    out.append(panel("Encoder batch tokens", "Tokens per encoder batch, and the mean.",
                     quantiles_nolabel("docflow_encoder_batch_tokens", JOB, "tokens")
                     + [(f"sum({rate('docflow_encoder_batch_tokens_sum', JOB)}) / sum({rate('docflow_encoder_batch_tokens_count', JOB)})", "mean")],
                     unit="short", w=6))
    out.append(panel("GPU busy", "GPU kernel seconds per second per process (1 = kernels running all the time), and kernel launches / s.",
                     [(f"sum by (instance) ({rate('docflow_gpu_kernel_seconds_sum', JOB)})", "{{instance}} busy"),
                      (f"sum by (instance) ({rate('docflow_gpu_kernel_seconds_count', JOB)})", "{{instance}} launches/s")],
                     unit="short", w=6))
    out.append(panel("GPU memory", "Device memory held by each infer process.",
                     [(f"sum by (instance) (docflow_gpu_memory_bytes{{{JOB}}})", "{{instance}}")], unit="bytes", w=6))
    out.append(panel("GPU kernel time percentiles", "p50 / p95 / p99 of one kernel launch.",
                     quantiles_nolabel("docflow_gpu_kernel_seconds", JOB, "kernel"), unit="s", w=12))
    out.append(panel("Model version", "Scoring model version in use per stage (after hot swaps from model.updates).",
                     [(f"max by (stage) (docflow_model_version{{{SEL}}})", "{{stage}}")], unit="none", kind="stat", w=12,
                     extra={"options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                                        "colorMode": "value", "graphMode": "none", "textMode": "value_and_name"}}))
    return out


def layout(ps):
    """Assigns ids and gridPos x/y: panels flow left to right, rows break lines."""
    x = y = 0
    line_h = 0
    for i, p in enumerate(ps, start=1):
        p["id"] = i
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if p["type"] == "row" or x + w > 24:
            y += line_h
            x, line_h = 0, 0
        p["gridPos"].update({"x": x, "y": y})
        if p["type"] == "row":
            y += h
            continue
        x += w
        line_h = max(line_h, h)
    return ps


def variable(name, label, query, multi, include_all):
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-var"},
        "refresh": 2,
        "multi": multi,
        "includeAll": include_all,
        "allValue": ".*" if include_all else None,
        "current": {},
        "sort": 1,
    }


def dashboard():
    return {
        "uid": "docflow-pipeline",
        "title": "docflow",
        "description": "docflow pipeline: throughput, latency, lag, utilisation, DLQ and GPU per stage. Generated by deploy/observability/grafana/dashboard.py.",
        "tags": ["docflow", "kafka"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus", "current": {}, "hide": 0},
            variable("job", "Job", "label_values(docflow_records_in_total, job)", False, False),
            variable("stage", "Stage", 'label_values(docflow_records_in_total{job=~"$job"}, stage)', True, True),
        ]},
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard",
        }]},
        "panels": layout(panels()),
    }


def render():
    return json.dumps(dashboard(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        with open(OUT, encoding="utf-8") as f:
            if f.read() != text:
                sys.exit(f"{OUT} is stale: run python3 {os.path.relpath(__file__)}")
        sys.exit(0)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {OUT}")
