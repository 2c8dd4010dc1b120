#!/usr/bin/env bash
# docflow GPU check: run on the GPU machine from the folder prepare.sh built
# (it holds release binaries, the small model files, docs.jsonl and
# peer_bench.py; nothing is compiled there). Results go to $OUT (default
# ./out); a summary is printed at the end.
#
#   bash gpu-run/run.sh
#
# Steps: GPU tests (kernels vs CPU reference, CUDA vs CPU encoder), PyTorch
# peers on random MiniLM-shaped weights (saved to /tmp/m, fp32 embeddings of
# the first 64 docs to peer.npy), docflow's encode bench on the same weights
# and docs, the cosine comparison, the GEMM bench vs cuBLAS, then
# compute-sanitizer memcheck + racecheck on a small batch.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"
OUT="${OUT:-$HERE/out}"
mkdir -p "$OUT"
export LD_LIBRARY_PATH="/usr/local/cuda/lib64:/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}"
export CUDA_HOME="${CUDA_HOME:-/usr/local/cuda}"
export RUST_BACKTRACE=0
BIN="$HERE/docflow-gpu-bench"
BATCH_TOKENS="${BATCH_TOKENS:-16384 32768 65536}"
step() { echo "== $(date +%T) $*"; }

step "gpu"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
date -u +%Y-%m-%dT%H:%M:%SZ > "$OUT/date.txt"
step "check"; timeout 60 "$BIN" check > "$OUT/check.txt" 2>&1; rc=$?; cat "$OUT/check.txt"
if [ $rc -ne 0 ]; then
  # A failing (or hanging) wgmma start-up check must not sink the whole run: retry on mma.sync.
  echo "check rc=$rc: retrying with DOCFLOW_GEMM=mma"; export DOCFLOW_GEMM=mma
  timeout 60 "$BIN" check 2>&1 | tee -a "$OUT/check.txt"
fi

step "gpu tests"; timeout 90 "$HERE/gpu-tests" --test-threads=1 --nocapture > "$OUT/gpu-tests.txt" 2>&1
echo "gpu-tests rc=$?" | tee -a "$OUT/gpu-tests.txt"; grep -E "^test |test result|panicked|cosine" "$OUT/gpu-tests.txt" | head -20

step "peer (PyTorch)"
timeout 300 python3 peer_bench.py --model-dir model --docs docs.jsonl --save-dir /tmp/m --dump 64 \
    --dump-file "$OUT/peer.npy" ${PEER_ARGS:-} > "$OUT/peer.jsonl" 2> "$OUT/peer.err"
echo "peer rc=$?"; cat "$OUT/peer.jsonl"; tail -3 "$OUT/peer.err"

step "docflow encode"
: > "$OUT/docflow.jsonl"
for bt in $BATCH_TOKENS; do
  timeout 90 "$BIN" encode --model /tmp/m --docs docs.jsonl --batch-tokens "$bt" --repeat 3 \
      --dump 64 --dump-file "$OUT/docflow64.f32" >> "$OUT/docflow.jsonl" 2> "$OUT/docflow.err"
  echo "encode (batch_tokens=$bt) rc=$?"
done
cat "$OUT/docflow.jsonl"; tail -5 "$OUT/docflow.err"

step "gemm vs cuBLAS"
: > "$OUT/gemm.jsonl"
for t in ${GEMM_TOKENS:-32768 65536}; do
  timeout 60 "$BIN" gemm --tokens "$t" >> "$OUT/gemm.jsonl" 2> "$OUT/gemm.err"; echo "gemm rc=$?"
done
cat "$OUT/gemm.jsonl"; tail -3 "$OUT/gemm.err"

SAN=/usr/local/cuda/bin/compute-sanitizer
# Every kernel on ragged shapes (the GPU tests), then the whole encoder on a few documents.
step "compute-sanitizer memcheck"
timeout 100 "$SAN" --tool memcheck --error-exitcode 9 "$HERE/gpu-tests" --test-threads=1 > "$OUT/sanitizer-memcheck-tests.txt" 2>&1
echo "memcheck tests rc=$?" | tee -a "$OUT/sanitizer-memcheck-tests.txt"; grep -E "ERROR SUMMARY|test result" "$OUT/sanitizer-memcheck-tests.txt" | head -5
timeout 100 "$SAN" --tool memcheck --error-exitcode 9 "$BIN" encode --model /tmp/m --docs docs.jsonl \
    --limit 12 --repeat 1 --batch-tokens 1024 > "$OUT/sanitizer-memcheck-encode.txt" 2>&1
echo "memcheck encode rc=$?" | tee -a "$OUT/sanitizer-memcheck-encode.txt"; grep -E "ERROR SUMMARY" "$OUT/sanitizer-memcheck-encode.txt" | head -3
step "compute-sanitizer racecheck"
timeout 120 "$SAN" --tool racecheck --error-exitcode 9 "$HERE/gpu-tests" --test-threads=1 > "$OUT/sanitizer-racecheck-tests.txt" 2>&1
echo "racecheck tests rc=$?" | tee -a "$OUT/sanitizer-racecheck-tests.txt"; grep -E "RACECHECK SUMMARY|ERROR SUMMARY|test result" "$OUT/sanitizer-racecheck-tests.txt" | head -5

step "summary"
python3 compare.py "$OUT/peer.npy" "$OUT/docflow64.f32" "$OUT/peer.jsonl" "$OUT/docflow.jsonl" "$OUT/gemm.jsonl" | tee "$OUT/summary.json"
