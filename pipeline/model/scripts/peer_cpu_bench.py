#!/usr/bin/env python3
"""The CPU peers of `docflow bench encode --device cpu`, on the same
documents and thread count, from the local model directory (offline):

  st-fp32      sentence-transformers `encode` (tokenise, pad, fp32 torch,
               mean pooling, normalise)
  ort-fp32     ONNX Runtime on the model exported to ONNX (pooling and
               normalisation inside the graph), default session
               optimisations (ORT_ENABLE_ALL)
  ort-int8     the same graph through `onnxruntime.quantization.quantize_dynamic`
               with its defaults (int8 weights per tensor, dynamic u8 activations)
  ort-int8-pc  the same with `per_channel=True` (int8 weights per channel, as
               docflow's int8)
  torch-int8   `torch.ao.quantization.quantize_dynamic` on the Linear layers
               of the sentence-transformers model

Every peer tokenises with the model's tokenizer, sorts documents by length
(characters) and pads per batch (what sentence-transformers does), truncating at 256
tokens. Prints one JSON line per batch size and a last line {"best": ...};
`cpu_seconds` is the process CPU time (all threads) of the timed pass.

Usage:
  python3 peer_cpu_bench.py --model-dir DIR --docs DOCS.jsonl --peer st-fp32
      [--threads 2] [--batches 16,32,64] [--onnx-dir DIR]
  python3 peer_cpu_bench.py --model-dir DIR --export-onnx DIR   # fp32 + int8 .onnx
  python3 peer_cpu_bench.py --model-dir DIR --docs DOCS.jsonl --onnx-dir DIR --cosine-vs-st 200
      # min / mean cosine of each peer's embeddings against sentence-transformers fp32
Needs torch, sentence-transformers, onnx, onnxruntime from PyPI.
"""
import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

MAX_TOKENS = 256


def read_docs(path):
    texts = []
    for line in open(path):
        if line.strip():
            v = json.loads(line)
            texts.append(v["text"] if isinstance(v, dict) else v)
    return texts


def export_onnx(model_dir, out_dir):
    """model.onnx (fp32: BERT + mean pooling + L2 norm) and model_int8.onnx."""
    import torch
    from transformers import AutoModel
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class Pooled(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            e = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(e, p=2, dim=1)

    os.makedirs(out_dir, exist_ok=True)
    model = Pooled(AutoModel.from_pretrained(model_dir).eval())
    ids = torch.ones(2, 16, dtype=torch.long)
    fp32 = os.path.join(out_dir, "model.onnx")
    with torch.inference_mode():
        torch.onnx.export(
            model, (ids, ids), fp32, input_names=["input_ids", "attention_mask"],
            output_names=["embedding"], opset_version=17, dynamo=False,
            dynamic_axes={"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"}, "embedding": {0: "b"}},
        )
    int8 = os.path.join(out_dir, "model_int8.onnx")
    quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8)
    int8_pc = os.path.join(out_dir, "model_int8_pc.onnx")
    quantize_dynamic(fp32, int8_pc, weight_type=QuantType.QInt8, per_channel=True)
    print(json.dumps({"exported": [fp32, int8, int8_pc]}))


def batches_by_length(texts, bs):
    """Yields batches of texts, longest first by characters (as
    sentence-transformers does), so each batch pads little."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    for s in range(0, len(texts), bs):
        yield [texts[i] for i in order[s:s + bs]]


def ort_runner(model_dir, onnx_path, threads):
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    tok.enable_padding()

    def run(texts, bs):
        out = []
        for chunk in batches_by_length(texts, bs):
            enc = tok.encode_batch(chunk)
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            out.append(sess.run(None, {"input_ids": ids, "attention_mask": mask})[0])
        return out

    return run, {"onnxruntime": ort.__version__}


def st_runner(model_dir, threads, int8):
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    model = SentenceTransformer(model_dir, device="cpu")
    model.max_seq_length = MAX_TOKENS
    if int8:
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)

    def run(texts, bs):
        with torch.inference_mode():
            return model.encode(texts, batch_size=bs, normalize_embeddings=True)

    return run, {"torch": torch.__version__}


ONNX_FILES = {"ort-fp32": "model.onnx", "ort-int8": "model_int8.onnx", "ort-int8-pc": "model_int8_pc.onnx"}


def runner(a, peer):
    if peer in ONNX_FILES:
        return ort_runner(a.model_dir, os.path.join(a.onnx_dir, ONNX_FILES[peer]), a.threads)
    return st_runner(a.model_dir, a.threads, peer == "torch-int8")


def cosine_vs_st(a, texts):
    import numpy as np

    def embed(peer):
        run, _ = runner(a, peer)
        out = run(texts, 32)
        if isinstance(out, list):  # ONNX: batches in length order
            order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
            flat = np.concatenate(out)
            out = np.empty_like(flat)
            out[order] = flat
        return np.asarray(out)

    ref = embed("st-fp32")
    for peer in list(ONNX_FILES) + ["torch-int8"]:
        got = embed(peer)
        cos = (got * ref).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(ref, axis=1))
        print(json.dumps({"peer": peer, "docs": len(texts), "min_cosine_vs_st_fp32": round(float(cos.min()), 5),
                          "mean_cosine_vs_st_fp32": round(float(cos.mean()), 5)}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--docs")
    ap.add_argument("--peer", choices=list(ONNX_FILES) + ["st-fp32", "torch-int8"], default="st-fp32")
    ap.add_argument("--cosine-vs-st", type=int, metavar="N",
                    help="compare every peer with sentence-transformers fp32 on the first N documents")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default="16,32,64")
    ap.add_argument("--warmup", type=int, default=64)
    ap.add_argument("--onnx-dir", help="where --export-onnx wrote model.onnx and model_int8.onnx")
    ap.add_argument("--export-onnx", metavar="DIR")
    a = ap.parse_args()

    if a.export_onnx:
        export_onnx(a.model_dir, a.export_onnx)
        return
    texts = read_docs(a.docs)
    if a.cosine_vs_st:
        cosine_vs_st(a, texts[:a.cosine_vs_st])
        return
    run, versions = runner(a, a.peer)
    best = None
    for bs in [int(b) for b in a.batches.split(",")]:
        run(texts[:a.warmup], bs)
        c, t = time.process_time(), time.perf_counter()
        run(texts, bs)
        dt, cpu = time.perf_counter() - t, time.process_time() - c
        row = {"peer": a.peer, **versions, "threads": a.threads, "batch": bs, "docs": len(texts),
               "seconds": round(dt, 3), "cpu_seconds": round(cpu, 3), "docs_per_s": round(len(texts) / dt, 2)}
        print(json.dumps(row), flush=True)
        if best is None or row["docs_per_s"] > best["docs_per_s"]:
            best = row
    print(json.dumps({"best": best}), flush=True)


if __name__ == "__main__":
    main()
