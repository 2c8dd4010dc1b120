#!/usr/bin/env python3
"""The PyTorch CPU peer of `docflow bench encode --device cpu`:
sentence-transformers `encode` (tokenisation + padding + fp32 inference,
mean pooling, normalisation) on the same documents and thread count, from
the local model directory (offline). Prints one JSON line per batch size
and a final line with the best.

Usage: python3 peer_cpu_bench.py --model-dir DIR --docs DOCS.jsonl
           [--threads 2] [--batches 16,32,64]
DOCS.jsonl: JSON lines with a "text" field (or bare JSON strings).
Needs torch and sentence-transformers from PyPI.
"""
import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--docs", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default="16,32,64")
    ap.add_argument("--warmup", type=int, default=64)
    a = ap.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(a.threads)
    texts = []
    for line in open(a.docs):
        if line.strip():
            v = json.loads(line)
            texts.append(v["text"] if isinstance(v, dict) else v)
    model = SentenceTransformer(a.model_dir, device="cpu")
    model.max_seq_length = 256
    best = None
    for bs in [int(b) for b in a.batches.split(",")]:
        model.encode(texts[:a.warmup], batch_size=bs)
        t = time.perf_counter()
        with torch.inference_mode():
            model.encode(texts, batch_size=bs, normalize_embeddings=True)
        dt = time.perf_counter() - t
        row = {"peer": "sentence-transformers encode fp32 cpu", "torch": torch.__version__,
               "threads": torch.get_num_threads(), "batch": bs, "docs": len(texts),
               "seconds": round(dt, 2), "docs_per_s": round(len(texts) / dt, 2)}
        print(json.dumps(row), flush=True)
        if best is None or row["docs_per_s"] > best["docs_per_s"]:
            best = row
    print(json.dumps({"best": best}), flush=True)


if __name__ == "__main__":
    main()
