#!/usr/bin/env python3
"""Summary of a bench_cpu.sh run: per encoder, the best round's docs/s
(wall time), its CPU seconds per 1,000 documents, the median over rounds,
and the ratios docflow's encoders are judged by.

Usage: python3 bench_summary.py RESULTS.jsonl   (one JSON object per run,
with "encoder", "docs", "seconds", "cpu_seconds", "docs_per_s")
"""
import json
import statistics
import sys


def main():
    runs = {}
    for line in open(sys.argv[1]):
        if line.strip():
            r = json.loads(line)
            runs.setdefault(r["encoder"], []).append(r)
    best = {e: max(rs, key=lambda r: r["docs_per_s"]) for e, rs in runs.items()}
    print()
    print("| encoder | best docs/s | median docs/s | CPU s / 1,000 docs (best round) | rounds |")
    print("| --- | --- | --- | --- | --- |")
    for e, rs in runs.items():
        b = best[e]
        med = statistics.median(r["docs_per_s"] for r in rs)
        cpu = 1000 * b["cpu_seconds"] / b["docs"]
        print(f"| {e} | {b['docs_per_s']:.1f} | {med:.1f} | {cpu:.1f} | {len(rs)} |")
    print()
    for mine, peer in [("docflow-int8", "st-fp32"), ("docflow-int8", "ort-int8"), ("docflow-bf16", "st-fp32"),
                       ("docflow-fp32", "st-fp32"), ("docflow-int8", "docflow-fp32")]:
        if mine in best and peer in best:
            wall = best[mine]["docs_per_s"] / best[peer]["docs_per_s"]
            cpu = (best[peer]["cpu_seconds"] / best[peer]["docs"]) / max(best[mine]["cpu_seconds"] / best[mine]["docs"], 1e-9)
            print(f"{mine} / {peer}: {wall:.2f}x docs/s (wall), {cpu:.2f}x less CPU per document")


if __name__ == "__main__":
    main()
