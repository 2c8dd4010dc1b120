#!/usr/bin/env bash
# Runs the Python client examples against docflow on the local stack, as
# scripts/test.sh does: creates a prefixed copy of every topic, starts
# `docflow run` on them (memory store, CPU encoder, docs.results as JSON so
# the consumer meets all three codecs), publishes with producer.py and
# accounts for every id with consumer.py.
#
#   examples/python/run_examples.sh path/to/docflow
set -euo pipefail
cd "$(dirname "$0")"
docflow="${1:?usage: run_examples.sh DOCFLOW_BINARY}"
prefix="pyex-$(date +%s)-$$"
tmp="$(mktemp -d)"
run_pid=""
cleanup() {
  if [ -n "$run_pid" ]; then
    kill -TERM "$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

sed "s/^name = \"/name = \"$prefix./" ../../topics/topics.toml > "$tmp/topics.toml"
"$docflow" topics apply --file "$tmp/topics.toml" > /dev/null
cat > "$tmp/docflow.toml" <<CONF
store_backend = "memory"
results_codec = "json"
CONF
"$docflow" run --config "$tmp/docflow.toml" --topic-prefix "$prefix" --device cpu > "$tmp/run.log" 2>&1 &
run_pid=$!

python3 producer.py --topic "$prefix.docs.raw.normal" --run "$prefix" > "$tmp/sent.jsonl"
if ! python3 consumer.py --results "$prefix.docs.results" --dlq "$prefix.docs.dlq" --expect "$tmp/sent.jsonl" --timeout "${DOCFLOW_EXAMPLE_TIMEOUT:-300}"; then
  echo "examples: docflow run log (last 40 lines):" >&2
  tail -n 40 "$tmp/run.log" >&2
  exit 1
fi
