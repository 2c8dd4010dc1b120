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
cargo build --release --quiet -p docflow
docflow="$CARGO_TARGET_DIR/release/docflow"

echo "== local stack"
deploy/local/stack.sh up

echo "== topics, schema, model"
"$docflow" topics apply
"$docflow" schema apply
"$docflow" model fetch

echo "== documents through the stack"
"$docflow" demo --docs 12
