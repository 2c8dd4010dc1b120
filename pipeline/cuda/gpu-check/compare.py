#!/usr/bin/env python3
"""Compares docflow's CUDA embeddings with PyTorch's and prints the ratios.

compare.py PEER.npy DOCFLOW.f32 PEER.jsonl DOCFLOW_ENCODE.json GEMM.jsonl
Writes a summary JSON object to stdout."""
import json
import sys

import numpy as np


def jsonl(path):
    out = []
    try:
        for line in open(path):
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return out


def main():
    peer_npy, ours_f32, peer_log, ours_log, gemm_log = sys.argv[1:6]
    s = {}
    try:
        p = np.load(peer_npy).astype(np.float32)
        o = np.fromfile(ours_f32, dtype="<f4").reshape(-1, p.shape[1])
        n = min(len(p), len(o))
        cos = np.sum(p[:n] * o[:n], axis=1) / (np.linalg.norm(p[:n], axis=1) * np.linalg.norm(o[:n], axis=1))
        s["cosine_vs_pytorch_fp32"] = {"docs": int(n), "min": float(cos.min()), "mean": float(cos.mean()),
                                       "pass_0.999": bool(cos.min() >= 0.999)}
    except Exception as e:  # report, do not hide
        s["cosine_vs_pytorch_fp32"] = {"error": repr(e)}
    peers = jsonl(peer_log)
    ours = [r for r in jsonl(ours_log) if "model_docs_per_s" in r]
    st = [r["docs_per_s"] for r in peers if r.get("peer", "").startswith("sentence-transformers")]
    bm = [r["docs_per_s"] for r in peers if r.get("peer", "").startswith("BertModel")]
    comp = [r["docs_per_s"] for r in peers if "torch.compile" in r.get("peer", "")]
    if ours:
        best = max(ours, key=lambda r: r["model_docs_per_s"])
        s["docflow"] = best
        if bm:
            s["model_only_vs_bertmodel_sdpa_fp16_best"] = round(best["model_docs_per_s"] / max(bm), 3)
        if comp:
            s["model_only_vs_torch_compile"] = round(best["model_docs_per_s"] / max(comp), 3)
        if st:
            s["text_vs_sentence_transformers_fp16_best"] = round(max(r["text_docs_per_s"] for r in ours) / max(st), 3)
    s["peer_best"] = {"sentence_transformers": max(st) if st else None, "bertmodel_sdpa_fp16": max(bm) if bm else None,
                      "torch_compile": max(comp) if comp else None}
    g = jsonl(gemm_log)
    s["gemm_ratio_vs_cublas"] = {f'{r["name"]} {r["m"]}x{r["n"]}x{r["k"]}': {"ratio": round(r["ratio"], 3),
                                  "docflow_tflops": round(r["docflow_tflops"], 1), "cublas_tflops": round(r["cublas_tflops"], 1),
                                  "mma_sync_tflops": round(r.get("mma_sync_tflops", 0), 1),
                                  "wgmma_tflops": r.get("wgmma_tflops") and round(r["wgmma_tflops"], 1),
                                  "max_abs_diff": r["max_abs_diff"], "max_abs_diff_wgmma": r.get("max_abs_diff_wgmma")} for r in g}
    if g:
        s["gemm_encoder_uses"] = g[0].get("encoder_uses")
    print(json.dumps(s, indent=1))


if __name__ == "__main__":
    main()
