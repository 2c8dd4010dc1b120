#!/usr/bin/env bash
# Assembles the folder the GPU machine runs (default <repo>/gpu-run, git-ignored):
# release binaries (docflow-gpu-bench and the GPU test binary), the small
# model files (no weights: peer_bench.py makes random ones there), a
# generated documents file, peer_bench.py, run.sh and compare.py.
#
#   bash pipeline/cuda/gpu-check/prepare.sh [DEST]
# then, with the device tool: carry ["gpu-run"], command `bash gpu-run/run.sh`.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
DEST="${1:-$REPO/gpu-run}"
MODEL="${DOCFLOW_MODEL_DIR:-$HOME/.cache/docflow/models/all-MiniLM-L6-v2}"
PEER="${PEER_BENCH:-$REPO/../shared/gpu/peer_bench.py}"
DOCS_N="${DOCS_N:-20000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target}"
cd "$REPO"

cargo build --release -p docflow-bench --bin docflow-gpu-bench
# The GPU tests as a release binary (tests/gpu.rs); find its path from cargo's JSON.
TEST_BIN="$(cargo test --release -p docflow-cuda --test gpu --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import sys, json
for l in sys.stdin:
    try: m = json.loads(l)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "gpu" and m.get("executable"):
        print(m["executable"])' | tail -1)"
[ -n "$TEST_BIN" ] || { echo "could not build the GPU test binary" >&2; exit 1; }

rm -rf "$DEST"; mkdir -p "$DEST/model"
cp "$CARGO_TARGET_DIR/release/docflow-gpu-bench" "$DEST/"
cp "$TEST_BIN" "$DEST/gpu-tests"
strip "$DEST/docflow-gpu-bench" "$DEST/gpu-tests" 2>/dev/null || true
for f in config.json tokenizer.json tokenizer_config.json special_tokens_map.json vocab.txt; do
  cp "$MODEL/$f" "$DEST/model/"
done
cp "$PEER" "$DEST/peer_bench.py"
HERE="$REPO/pipeline/cuda/gpu-check"
cp "$HERE/run.sh" "$HERE/compare.py" "$DEST/"
python3 "$HERE/gen_docs.py" "$DOCS_N" "$DEST/docs.jsonl"
"$DEST/docflow-gpu-bench" tokens --model "$DEST/model" --docs "$DEST/docs.jsonl"
du -sh "$DEST"; ls -la "$DEST"
