#!/usr/bin/env bash
# Runs every docflow test on this machine: installs what is missing, starts
# the local Kafka + Cassandra stack (unless DOCFLOW_KAFKA_BROKERS /
# DOCFLOW_SCYLLA_NODES point elsewhere), runs `cargo test --workspace`, and
# stops what it started, even when tests fail.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

echo "test: deployment manifests, dashboards and alerts (offline validators)"
deploy/validate.sh

# Dependency licences, bans and sources (the advisory database lives on
# GitHub, which this machine cannot reach). The first install compiles
# cargo-deny once (10-25 min on 2 cores); later runs find it installed.
if ! command -v cargo-deny >/dev/null; then
  echo "test: installing cargo-deny (once)"
  cargo install --locked --quiet cargo-deny --version 0.20.2
fi
# `cargo deny --offline` reads the metadata of every locked crate, those of
# other platforms too, which a build on this one never downloads.
echo "test: cargo fetch --locked (every platform's crates, for cargo deny)"
cargo fetch --locked --quiet
echo "test: cargo deny check licenses bans sources"
cargo deny --offline check licenses bans sources

started_stack=0
started_secure=0
cleanup() {
  if [ "$started_secure" = 1 ]; then
    echo "test: stopping the secured Kafka and Cassandra this run started"
    deploy/local/secure-kafka.sh down all || true
  fi
  if [ "$started_stack" = 1 ]; then
    echo "test: stopping the local stack this run started"
    deploy/local/stack.sh down || true
  fi
}
trap cleanup EXIT

if deploy/local/stack.sh status >/dev/null 2>&1; then
  echo "test: local stack already running; using it and leaving it up"
else
  started_stack=1
  deploy/local/stack.sh up
fi

# A second Kafka (SASL_SSL, SCRAM + PLAIN) and Cassandra (TLS + passwords)
# for the security tests (pipeline/stages/tests/secure_*.rs).
if deploy/local/secure-kafka.sh status >/dev/null 2>&1; then
  echo "test: secured Kafka already running; using the secured services and leaving them up"
else
  started_secure=1
fi
deploy/local/secure-kafka.sh up all   # idempotent: starts only what is not running

echo "test: building"
cargo build --workspace --all-targets --quiet
docflow="$CARGO_TARGET_DIR/debug/docflow"
"$docflow" model fetch
"$docflow" topics apply

# Kernels compile with NVRTC from the pip packages (no GPU needed).
nvidia_root="$(python3 -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13"))')"
export DOCFLOW_CUDA_INCLUDE="$nvidia_root/include"
export LD_LIBRARY_PATH="$nvidia_root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

echo "test: local stack probes"
python3 deploy/local/test_probe.py

echo "test: Python client examples against docflow run (examples/python/)"
examples/python/run_examples.sh "$docflow"

echo "test: running cargo test --workspace"
cargo test --workspace --no-fail-fast -- --nocapture
