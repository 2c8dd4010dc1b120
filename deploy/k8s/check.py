#!/usr/bin/env python3
"""Checks rendered docflow manifests (`kubectl kustomize deploy/k8s/overlays/X`)
beyond what the Kubernetes schemas can say (run by deploy/validate.sh).

    check.py RENDERED.yaml...        # CRD schemas + docflow rules, exit 1 on a problem
    check.py --sync-rules            # regenerate components/servicemonitor/prometheusrule.yaml

Built-in kinds are schema-checked by `kubernetes-validate --strict`; here:
- custom resources (ScaledObject, TriggerAuthentication, ServiceMonitor,
  PrometheusRule) against schemas/<group>_<version>_<Kind>.json; any other
  unknown kind fails;
- every stage Deployment: `docflow stage <name>` with a known stage, probes on
  /healthz and /readyz at the metrics port 9464, cpu+memory requests and
  limits, non-root read-only container, terminationGracePeriodSeconds longer
  than the runtime's drain (read from pipeline/runtime/src/config.rs), a
  PodDisruptionBudget and a metrics Service selecting it;
- every ScaledObject: targets a Deployment in the render, kafka trigger with
  consumerGroup docflow-<stage>, the stage's own input topic (or none, for
  the multi-lane parse stage), an integer lagThreshold, bootstrapServers equal
  to the ConfigMap's DOCFLOW_KAFKA_BROKERS, and maxReplicaCount no larger than
  the input topics' partitions (topics/topics.toml), and, where the upstream
  stage applies backpressure, lagThreshold x maxReplicaCount within its
  high_water (pipeline/runtime/src/backpressure.rs);
- the learn stage: one replica, Recreate, never autoscaled;
- a GPU infer (`--device cuda`) asks for nvidia.com/gpu and GPU nodes;
- every ConfigMap reference resolves; the setup Job applies topics and schema.
"""

import json
import os
import re
import sys

import jsonschema
import yaml

# libyaml's loader when present: the rendered overlays are ~1,000 lines each.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SCHEMAS = os.path.join(HERE, "schemas")
ALERTS = os.path.join(ROOT, "deploy", "observability", "prometheus", "alerts.yml")
PROMETHEUSRULE = os.path.join(HERE, "components", "servicemonitor", "prometheusrule.yaml")
RUNTIME_CONFIG = os.path.join(ROOT, "pipeline", "runtime", "src", "config.rs")
RUNTIME_BACKPRESSURE = os.path.join(ROOT, "pipeline", "runtime", "src", "backpressure.rs")
TOPICS = os.path.join(ROOT, "topics", "topics.toml")

METRICS_PORT = 9464
# Input topics of each stage (pipeline/runtime/src/topology.rs).
STAGE_INPUTS = {
    "parse": ["docs.raw.critical", "docs.raw.high", "docs.raw.normal", "docs.raw.low"],
    "infer": ["docs.parsed"],
    "score": ["docs.embedded"],
    "persist": ["docs.scored"],
    "learn": ["docs.feedback"],
}
SINGLE_INSTANCE = {"learn"}
# Stages whose input is produced by an upstream stage that pauses itself when
# this stage's lag passes its backpressure high_water (topology.rs): their lag
# is capped near high_water, so lagThreshold x maxReplicaCount must fit under it.
BACKPRESSURED = {"infer", "score", "persist"}
BUILTIN_GROUPS = {"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v2", "rbac.authorization.k8s.io/v1", "networking.k8s.io/v1"}


def drain_budget_s():
    """drain_timeout + rebalance_drain_timeout defaults from the runtime, in seconds (fallback 30 + 5)."""
    try:
        with open(RUNTIME_CONFIG, encoding="utf-8") as f:
            text = f.read()
        drain = int(re.search(r"\bdrain_timeout_ms:\s*([\d_]+)", text).group(1).replace("_", ""))
        rebalance = int(re.search(r"rebalance_drain_timeout_ms:\s*([\d_]+)", text).group(1).replace("_", ""))
        return max(drain, 30_000) / 1000, rebalance / 1000
    except (OSError, AttributeError):
        return 30.0, 5.0


def high_water():
    """Default backpressure high_water of the runtime (fallback 100,000)."""
    try:
        with open(RUNTIME_BACKPRESSURE, encoding="utf-8") as f:
            return int(re.search(r"high_water:\s*([\d_]+)", f.read()).group(1).replace("_", ""))
    except (OSError, AttributeError):
        return 100_000


def topic_partitions():
    """{topic: partitions} from topics/topics.toml (defaults applied)."""
    with open(TOPICS, "rb") as f:
        if tomllib:
            doc = tomllib.load(f)
        else:  # minimal fallback: only what this check needs
            doc = {"defaults": {}, "topic": []}
            cur = doc["defaults"]
            for line in f.read().decode().splitlines():
                line = line.split("#", 1)[0].strip()
                if line == "[[topic]]":
                    cur = {}
                    doc["topic"].append(cur)
                elif "=" in line:
                    k, v = (x.strip() for x in line.split("=", 1))
                    cur[k] = v.strip('"')
    default = int(doc.get("defaults", {}).get("partitions", 1))
    return {t["name"]: int(t.get("partitions", default)) for t in doc.get("topic", [])}


def load_schema(api_version, kind):
    path = os.path.join(SCHEMAS, f"{api_version.replace('/', '_')}_{kind}.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def stage_of(deploy):
    c = deploy["spec"]["template"]["spec"]["containers"][0]
    args = c.get("args") or []
    return args[1] if len(args) >= 2 and args[0] == "stage" else None


def probe_ok(probe, path):
    g = (probe or {}).get("httpGet") or {}
    return g.get("path") == path and g.get("port") in ("metrics", METRICS_PORT)


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or selector).items())


def check_render(path, problems):
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.load_all(f, Loader=LOADER) if d]
    tag = os.path.basename(path)
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
        api = d.get("apiVersion", "")
        if api in BUILTIN_GROUPS:
            continue
        schema = load_schema(api, d["kind"])
        if schema is None:
            problems.append(f"{tag}: no schema for {api} {d['kind']} (add one to deploy/k8s/schemas/)")
            continue
        for e in sorted(jsonschema.Draft7Validator(schema).iter_errors(d), key=lambda e: list(e.path)):
            loc = "/".join(str(p) for p in e.path)
            problems.append(f"{tag}: {d['kind']} {d['metadata'].get('name')}: {loc}: {e.message}")

    configmaps = {c["metadata"]["name"]: c.get("data", {}) for c in by_kind.get("ConfigMap", [])}
    deployments = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}
    pdbs = by_kind.get("PodDisruptionBudget", [])
    services = by_kind.get("Service", [])
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in by_kind.get("ScaledObject", [])}
    drain, rebalance = drain_budget_s()
    partitions = topic_partitions()

    def configmap_refs(pod_spec, where):
        for c in (pod_spec.get("initContainers") or []) + pod_spec["containers"]:
            for ef in c.get("envFrom") or []:
                name = (ef.get("configMapRef") or {}).get("name")
                if name and name not in configmaps:
                    problems.append(f"{where}: container {c['name']} reads ConfigMap {name}, which is not in the render")
            sc = c.get("securityContext") or {}
            if sc.get("allowPrivilegeEscalation") is not False or sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: container {c['name']} must set allowPrivilegeEscalation: false and readOnlyRootFilesystem: true")
            res = c.get("resources") or {}
            for kind in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in (res.get(kind) or {}):
                        problems.append(f"{where}: container {c['name']} has no {kind}.{r}")
        if not (pod_spec.get("securityContext") or {}).get("runAsNonRoot"):
            problems.append(f"{where}: pod must set securityContext.runAsNonRoot")

    stages_seen = set()
    for name, d in deployments.items():
        where = f"{tag}: Deployment {name}"
        spec = d["spec"]["template"]["spec"]
        stage = stage_of(d)
        if stage not in STAGE_INPUTS:
            problems.append(f"{where}: args must be ['stage', <{'|'.join(STAGE_INPUTS)}>, ...]")
            continue
        stages_seen.add(stage)
        c = spec["containers"][0]
        configmap_refs(spec, where)
        if not any(p.get("containerPort") == METRICS_PORT and p.get("name") == "metrics" for p in c.get("ports") or []):
            problems.append(f"{where}: no container port {METRICS_PORT} named metrics")
        if not probe_ok(c.get("livenessProbe"), "/healthz"):
            problems.append(f"{where}: livenessProbe must GET /healthz on the metrics port")
        if not probe_ok(c.get("readinessProbe"), "/readyz"):
            problems.append(f"{where}: readinessProbe must GET /readyz on the metrics port")
        grace = spec.get("terminationGracePeriodSeconds", 30)
        if grace < drain + rebalance + 10:
            problems.append(f"{where}: terminationGracePeriodSeconds {grace} must exceed the drain budget "
                            f"({drain:.0f} s drain + {rebalance:.0f} s rebalance + 10 s margin)")
        labels = d["spec"]["template"]["metadata"]["labels"]
        if not any(selects(p["spec"]["selector"], labels) for p in pdbs):
            problems.append(f"{where}: no PodDisruptionBudget selects its pods")
        if not any(selects(s["spec"].get("selector") or {}, labels) and
                   any(p.get("port") == METRICS_PORT for p in s["spec"].get("ports") or []) for s in services):
            problems.append(f"{where}: no Service exposes its metrics port {METRICS_PORT}")
        args = c.get("args") or []
        if "--device" in args and args[args.index("--device") + 1] == "cuda":
            limit = (c.get("resources", {}).get("limits") or {}).get("nvidia.com/gpu")
            if str(limit) != "1":
                problems.append(f"{where}: --device cuda needs resources.limits nvidia.com/gpu: 1")
            if not spec.get("nodeSelector") or not spec.get("tolerations"):
                problems.append(f"{where}: --device cuda needs a GPU nodeSelector and the nvidia.com/gpu toleration")
        if stage in SINGLE_INSTANCE:
            if d["spec"].get("replicas") != 1 or d["spec"].get("strategy", {}).get("type") != "Recreate":
                problems.append(f"{where}: {stage} is a single active instance: replicas 1 and strategy Recreate")
            if name in scaled:
                problems.append(f"{where}: {stage} must not be autoscaled (ScaledObject {scaled[name]['metadata']['name']})")
            continue
        so = scaled.get(name)
        if so is None:
            problems.append(f"{where}: no ScaledObject scales it")
            continue
        check_scaledobject(tag, so, stage, configmaps, c, partitions, problems)
    for target in scaled:
        if target not in deployments:
            problems.append(f"{tag}: ScaledObject {scaled[target]['metadata']['name']} targets missing Deployment {target}")
    for missing in sorted(set(STAGE_INPUTS) - stages_seen):
        problems.append(f"{tag}: no Deployment runs stage {missing}")

    jobs = by_kind.get("Job", [])
    commands = []
    for j in jobs:
        spec = j["spec"]["template"]["spec"]
        configmap_refs(spec, f"{tag}: Job {j['metadata']['name']}")
        commands += [" ".join(c.get("args") or []) for c in (spec.get("initContainers") or []) + spec["containers"]]
    for want in ("topics apply", "schema apply"):
        if not any(cmd.startswith(want) for cmd in commands):
            problems.append(f"{tag}: no Job runs `docflow {want}`")
    return len(docs)


def check_scaledobject(tag, so, stage, configmaps, container, partitions, problems):
    where = f"{tag}: ScaledObject {so['metadata']['name']}"
    spec = so["spec"]
    triggers = [t for t in spec.get("triggers", []) if t.get("type") == "kafka"]
    if len(triggers) != 1:
        problems.append(f"{where}: expected exactly one kafka trigger")
        return
    md = triggers[0].get("metadata", {})
    if md.get("consumerGroup") != f"docflow-{stage}":
        problems.append(f"{where}: consumerGroup {md.get('consumerGroup')!r} is not docflow-{stage}")
    inputs = STAGE_INPUTS[stage]
    topic = md.get("topic")
    if topic is None and len(inputs) == 1:
        problems.append(f"{where}: set topic: {inputs[0]}")
    if topic is not None and topic not in inputs:
        problems.append(f"{where}: topic {topic!r} is not an input of {stage} ({', '.join(inputs)})")
    if not re.fullmatch(r"[1-9][0-9]*", md.get("lagThreshold", "")):
        problems.append(f"{where}: lagThreshold must be a positive integer string")
    elif stage in BACKPRESSURED:
        hw = high_water()
        reach = int(md["lagThreshold"]) * spec.get("maxReplicaCount", 100)
        if reach > hw:
            problems.append(f"{where}: lagThreshold {md['lagThreshold']} x maxReplicaCount {spec.get('maxReplicaCount')} = {reach} "
                            f"exceeds the upstream backpressure high_water {hw}: the lag never gets there, so KEDA could never reach max")
    brokers = {data.get("DOCFLOW_KAFKA_BROKERS") for data in configmaps.values()} - {None}
    if md.get("bootstrapServers") not in brokers:
        problems.append(f"{where}: bootstrapServers {md.get('bootstrapServers')!r} differs from DOCFLOW_KAFKA_BROKERS {sorted(brokers)}")
    missing = [t for t in inputs if t not in partitions]
    if missing:
        problems.append(f"{where}: input topics {missing} are not in topics/topics.toml")
        return
    cap = min(partitions[t] for t in ([topic] if topic else inputs))
    if spec.get("maxReplicaCount", 100) > cap:
        problems.append(f"{where}: maxReplicaCount {spec.get('maxReplicaCount')} exceeds the input's {cap} partitions (extra members would idle)")
    if spec.get("minReplicaCount", 0) > spec.get("maxReplicaCount", 100):
        problems.append(f"{where}: minReplicaCount above maxReplicaCount")
    if md.get("sasl") and not triggers[0].get("authenticationRef"):
        problems.append(f"{where}: sasl set but no authenticationRef for the credentials")


def prometheusrule_text():
    with open(ALERTS, encoding="utf-8") as f:
        rules = yaml.safe_load(f)
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "docflow", "labels": {"app.kubernetes.io/name": "docflow"}},
        "spec": {"groups": rules["groups"]},
    }
    header = ("# GENERATED from deploy/observability/prometheus/alerts.yml by\n"
              "# `python3 deploy/k8s/check.py --sync-rules`; edit alerts.yml, not this file.\n")
    return header + yaml.safe_dump(doc, sort_keys=False, width=1000)


def main(argv):
    if argv[:1] == ["--sync-rules"]:
        with open(PROMETHEUSRULE, "w", encoding="utf-8") as f:
            f.write(prometheusrule_text())
        print(f"wrote {PROMETHEUSRULE}")
        return 0
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    problems = []
    try:
        with open(PROMETHEUSRULE, encoding="utf-8") as f:
            if f.read() != prometheusrule_text():
                problems.append(f"{PROMETHEUSRULE} is stale: run python3 deploy/k8s/check.py --sync-rules")
    except OSError:
        problems.append(f"{PROMETHEUSRULE} missing: run python3 deploy/k8s/check.py --sync-rules")
    counts = {p: check_render(p, problems) for p in argv}
    for p in problems:
        print(f"k8s: {p}", file=sys.stderr)
    if problems:
        return 1
    for p, n in counts.items():
        print(f"k8s: {os.path.basename(p)}: {n} objects OK (CRD schemas, probes, drain, PDB, KEDA vs topics)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
