#!/usr/bin/env bash
# CPU benchmark: docflow fp32 / bf16 / int8 against sentence-transformers
# fp32, ONNX Runtime fp32 and int8 (quantize_dynamic) and PyTorch dynamic
# int8, on the same documents and thread count. Encoders run one after the
# other inside each round, for ROUNDS rounds, so a shared machine's load
# falls on all of them alike; the summary keeps each encoder's best round.
#   pipeline/model/scripts/bench_cpu.sh [N_DOCS=1000] [THREADS=2] [ROUNDS=3]
# Env: PEER_PYTHON (a Python with torch, sentence-transformers, onnx,
# onnxruntime; default python3), PEER_BATCHES (default 16,32,64; each peer
# reports its best), ONNX_DIR (exported once, default
# ~/.cache/docflow/onnx/all-MiniLM-L6-v2), PEERS (default
# "st-fp32 ort-fp32 ort-int8 ort-int8-pc torch-int8"), PRECISIONS (default "fp32 bf16 int8").
# Needs the real model (docflow model fetch).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
n="${1:-1000}"; threads="${2:-2}"; rounds="${3:-3}"
model="${DOCFLOW_MODEL_DIR:-$HOME/.cache/docflow/models/all-MiniLM-L6-v2}"
py="${PEER_PYTHON:-python3}"
onnx="${ONNX_DIR:-$HOME/.cache/docflow/onnx/all-MiniLM-L6-v2}"
peers="${PEERS:-st-fp32 ort-fp32 ort-int8 ort-int8-pc torch-int8}"
precisions="${PRECISIONS:-fp32 bf16 int8}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
docs="$work/docs.jsonl"; results="$work/results.jsonl"
python3 "$here/gen_bench_docs.py" "$n" "$docs"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
(cd "$repo" && cargo build --release -q -p docflow-bench --bin docflow-cpu-bench)
bin="$CARGO_TARGET_DIR/release/docflow-cpu-bench"

have_peers=0
if "$py" -c "import torch, sentence_transformers, onnxruntime, onnx" 2>/dev/null; then
  have_peers=1
  if [[ ! -f "$onnx/model_int8_pc.onnx" ]]; then
    "$py" "$here/peer_cpu_bench.py" --model-dir "$model" --export-onnx "$onnx" >&2
  fi
else
  echo '{"peers": "skipped: torch / sentence-transformers / onnxruntime not importable"}'
fi

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $(date -u +%F); $n docs, $threads threads, $rounds rounds"
for round in $(seq 1 "$rounds"); do
  for p in $precisions; do
    "$bin" encode --device cpu --precision "$p" --model "$model" --docs "$docs" --threads "$threads" \
      | python3 -c 'import json,sys; r=json.loads(sys.stdin.readline()); r["encoder"]="docflow-"+r["precision"]; r["round"]='"$round"'; print(json.dumps(r))' \
      | tee -a "$results"
  done
  if [[ $have_peers == 1 ]]; then
    for peer in $peers; do
      "$py" "$here/peer_cpu_bench.py" --model-dir "$model" --docs "$docs" --threads "$threads" \
        --peer "$peer" --onnx-dir "$onnx" --batches "${PEER_BATCHES:-16,32,64}" \
        | tail -n 1 \
        | python3 -c 'import json,sys; r=json.loads(sys.stdin.readline())["best"]; r["encoder"]=r["peer"]; r["round"]='"$round"'; print(json.dumps(r))' \
        | tee -a "$results"
    done
  fi
done
python3 "$here/bench_summary.py" "$results"
