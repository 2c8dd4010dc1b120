#!/usr/bin/env bash
# docflow's main job, end to end, on this machine: installs what is missing,
# builds docflow, starts the local Kafka + Cassandra stack (left running;
# `deploy/local/stack.sh down` stops it), applies topics and the CQL schema,
# fetches the model, then pushes documents through the pipeline and prints a
# summary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

echo "== build (release)"
cargo build --release --locked --quiet -p docflow -p docflow-loadtest
docflow="$CARGO_TARGET_DIR/release/docflow"
loadtest="$CARGO_TARGET_DIR/release/loadtest"

echo "== local stack"
deploy/local/stack.sh up

echo "== topics, schema, model"
"$docflow" topics apply
"$docflow" schema apply
"$docflow" model fetch

echo "== documents through the stack (codec round trip)"
"$docflow" demo --docs 6

# The main job: every stage in one process (real model on the CPU encoder;
# `--device cuda` on a GPU machine), fed by a short open-loop load test that
# follows each document to docs.results or docs.dlq.
mkdir -p .state
echo "== docflow run (log: .state/docflow-run.log)"
DOCFLOW_METRICS_ADDR="${DOCFLOW_METRICS_ADDR:-127.0.0.1:9464}" "$docflow" run --device "${DOCFLOW_DEVICE:-cpu}" > .state/docflow-run.log 2>&1 &
run_pid=$!
trap 'kill -TERM "$run_pid" 2>/dev/null; wait "$run_pid" 2>/dev/null || true' EXIT
sleep 15
echo "== load test: 5 documents/s for 10 s, followed to docs.results"
"$loadtest" steady --rate 5 --duration-secs 10 --deadline-secs 180 --out .state/loadtest-report
echo "== pipeline status"
"$docflow" status --interval 2
echo "report: .state/loadtest-report/report.md; stop the stack with deploy/local/stack.sh down"
