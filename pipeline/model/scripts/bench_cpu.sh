#!/usr/bin/env bash
# CPU benchmark, docflow against the PyTorch peer, same documents and threads.
#   pipeline/model/scripts/bench_cpu.sh [N_DOCS=2000] [THREADS=2]
# Needs the real model (docflow model fetch) and, for the peer, a Python with
# torch + sentence-transformers from PyPI ($PEER_PYTHON, default python3).
# Run on an otherwise idle machine: both sides share the same cores.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
n="${1:-2000}"; threads="${2:-2}"
model="${DOCFLOW_MODEL_DIR:-$HOME/.cache/docflow/models/all-MiniLM-L6-v2}"
docs="$(mktemp --suffix=.jsonl)"
trap 'rm -f "$docs"' EXIT
python3 "$here/gen_bench_docs.py" "$n" "$docs"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
(cd "$repo" && cargo build --release -q -p docflow-model --example bench_encode)
echo "docflow:"
"$CARGO_TARGET_DIR/release/examples/bench_encode" --device cpu --model "$model" --docs "$docs" --threads "$threads"
echo "peer:"
if "${PEER_PYTHON:-python3}" -c "import torch, sentence_transformers" 2>/dev/null; then
  "${PEER_PYTHON:-python3}" "$here/peer_cpu_bench.py" --model-dir "$model" --docs "$docs" --threads "$threads"
else
  echo '{"peer": "skipped: torch / sentence-transformers not importable"}'
fi
