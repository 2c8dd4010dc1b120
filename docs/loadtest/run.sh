#!/usr/bin/env bash
# Reproduces the reports in docs/loadtest/ (see README.md there). Needs the
# local stack (deploy/local/stack.sh up), the keyspace (docflow schema apply)
# and release builds of docflow and loadtest. Each run uses its own topic
# prefix, so runs never see each other's backlog.
set -euo pipefail
cd "$(dirname "$0")/../.."
T="${CARGO_TARGET_DIR:-target}/release"
DF="$T/docflow"; LT="$T/loadtest"
TINY=/tmp/docflow-tiny-1l1h64   # one layer, one head, 64 positions (see loadtest/examples/tiny_model.rs)
REAL="${DOCFLOW_MODEL_DIR:-$HOME/.cache/docflow/models/all-MiniLM-L6-v2}"
[ -d "$TINY" ] || cargo run --release -p docflow-loadtest --example tiny_model -- "$TINY"

run() { # run MODE OUT MODEL [flags...]; $INFER_FLAGS go to the infer stage
  local mode=$1 out=$2 model=$3; shift 3
  local p="lt$(date +%s)"
  "$LT" "$mode" --create-topics 6 --topic-prefix "$p." --out "$out" --quiet \
    --stage "parse=$DF stage parse --topic-prefix $p" \
    --stage "infer=$DF stage infer --topic-prefix $p --device cpu --model $model ${INFER_FLAGS:-}" \
    --stage "score=$DF stage score --topic-prefix $p" \
    --stage "persist=$DF stage persist --topic-prefix $p" "$@"
}
F="--formats text,html,json,email"
run ramp docs/loadtest/ramp-tiny "$TINY" $F --start-rate 50 --step-rate 50 --max-rate 800 --step-secs 10 --warmup-secs 10 --slo-p99-ms 1000 --deadline-secs 60
run ramp docs/loadtest/ramp-real-cpu "$REAL" $F --start-rate 5 --step-rate 5 --max-rate 200 --step-secs 10 --warmup-secs 10 --slo-p99-ms 3000 --deadline-secs 60
INFER_FLAGS="--precision int8" run ramp docs/loadtest/ramp-real-cpu-int8 "$REAL" $F --start-rate 5 --step-rate 5 --max-rate 300 --step-secs 10 --warmup-secs 10 --slo-p99-ms 3000 --deadline-secs 60
run steady docs/loadtest/kill-infer-3x "$TINY" $F --rate 100 --duration-secs 30 --deadline-secs 60 --kill-stage infer --kills 3 --kill-first-secs 8 --kill-every-secs 7
run steady docs/loadtest/db-outage-30s "$TINY" $F --rate 100 --duration-secs 60 --deadline-secs 120 --db-outage-at-secs 15 --db-outage-secs 30 --db-pid auto
