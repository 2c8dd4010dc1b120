#!/usr/bin/env python3
"""docflow-specific checks of deploy/compose/compose.yaml (run by
deploy/validate.sh after `docker compose config` or compose-check has
validated it against the Compose Specification).

- every pipeline stage runs (`stage <name>`) from the docflow image, waits for
  the setup job to complete, has a /readyz healthcheck and a stop grace
  period longer than the runtime's drain;
- Kafka, ScyllaDB, setup, the OpenTelemetry Collector, Prometheus and Grafana
  exist; Kafka and ScyllaDB have healthchecks and setup waits for them;
- setup applies topics and schema and fetches the model into the volume the
  infer stage mounts;
- every file mounted from deploy/observability/ exists.
"""

import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
STAGES = ["parse", "infer", "score", "persist", "learn"]
INFRA = ["kafka", "scylla", "setup", "otel-collector", "prometheus", "grafana"]
DRAIN_BUDGET_S = 30  # the runtime's drain timeout ceiling (docs/scaling.md)


def seconds(duration):
    total = 0
    for n, unit in re.findall(r"(\d+)(ms|h|m|s)", str(duration)):
        total += int(n) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return total


def check(path, problems):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)  # resolves the x-stage anchors and << merges
    services = doc.get("services", {})
    for name in STAGES + INFRA:
        if name not in services:
            problems.append(f"{path}: service {name!r} missing")
    for name in STAGES:
        s = services.get(name)
        if not s:
            continue
        cmd = s.get("command") or []
        if cmd[:2] != ["stage", name]:
            problems.append(f"{name}: command must start with ['stage', '{name}'], got {cmd}")
        if (s.get("depends_on") or {}).get("setup", {}).get("condition") != "service_completed_successfully":
            problems.append(f"{name}: must depend on setup with condition service_completed_successfully")
        hc = " ".join(map(str, (s.get("healthcheck") or {}).get("test") or []))
        if "/readyz" not in hc or "9464" not in hc:
            problems.append(f"{name}: healthcheck must GET /readyz on port 9464")
        if seconds(s.get("stop_grace_period", "10s")) <= DRAIN_BUDGET_S:
            problems.append(f"{name}: stop_grace_period must exceed the {DRAIN_BUDGET_S} s drain budget")
        env = s.get("environment") or {}
        for var in ("DOCFLOW_KAFKA_BROKERS", "DOCFLOW_SCYLLA_NODES", "DOCFLOW_METRICS_ADDR", "OTEL_EXPORTER_OTLP_ENDPOINT"):
            if var not in env:
                problems.append(f"{name}: environment lacks {var}")
    for name in ("kafka", "scylla"):
        if not (services.get(name) or {}).get("healthcheck"):
            problems.append(f"{name}: needs a healthcheck (setup waits for service_healthy)")
        cond = ((services.get("setup") or {}).get("depends_on") or {}).get(name, {}).get("condition")
        if cond != "service_healthy":
            problems.append(f"setup: must wait for {name} with condition service_healthy")
    setup_cmd = " ".join(map(str, (services.get("setup") or {}).get("command") or []))
    for want in ("topics apply", "schema apply", "model fetch"):
        if want not in setup_cmd:
            problems.append(f"setup: command does not run `docflow {want}`")
    model_vol = [v for v in (services.get("setup") or {}).get("volumes") or [] if str(v).endswith(":/models")]
    infer_vol = [v for v in (services.get("infer") or {}).get("volumes") or [] if ":/models" in str(v)]
    if not model_vol or not infer_vol or str(model_vol[0]).split(":")[0] != str(infer_vol[0]).split(":")[0]:
        problems.append("infer must mount the volume setup fetches the model into (/models)")
    for sname, s in services.items():
        for v in s.get("volumes") or []:
            src = str(v).split(":")[0] if isinstance(v, str) else v.get("source", "")
            if src.startswith("."):
                full = os.path.normpath(os.path.join(HERE, src))
                if not os.path.exists(full):
                    problems.append(f"{sname}: mounts {src}, which does not exist")
        if "build" in s:
            b = s["build"]
            df = os.path.normpath(os.path.join(HERE, b.get("context", "."), b.get("dockerfile", "Dockerfile")))
            if not os.path.exists(df):
                problems.append(f"{sname}: build dockerfile {df} missing")


def main(paths):
    problems = []
    for p in paths or [os.path.join(HERE, "compose.yaml")]:
        check(p, problems)
    for p in problems:
        print(f"compose: {p}", file=sys.stderr)
    if problems:
        return 1
    print("compose: stages, start order, healthchecks, grace periods and mounts OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
