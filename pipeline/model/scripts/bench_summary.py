#!/usr/bin/env python3
"""Summary of a bench_cpu.sh run: per encoder, the median and best docs/s
(wall time) over the rounds and the median CPU seconds per 1,000 documents;
then the ratios docflow's encoders are judged by, paired within each round
(the encoders of one round ran minutes apart, under the same load) and
summarised by their median, with the CPU-time ratio beside them.

On a shared machine the best round of one encoder may have met an idle
machine that another encoder never saw, so best-against-best is not a fair
ratio; paired rounds and CPU time are.

Usage: python3 bench_summary.py RESULTS.jsonl   (one JSON object per run,
with "encoder", "round", "docs", "seconds", "cpu_seconds", "docs_per_s")
"""
import json
import statistics
import sys


def cpu_per_doc(r):
    return r["cpu_seconds"] / r["docs"]


def main():
    runs = {}
    for line in open(sys.argv[1]):
        if line.strip():
            r = json.loads(line)
            runs.setdefault(r["encoder"], {})[r["round"]] = r
    print()
    print("| encoder | median docs/s | best docs/s | CPU s / 1,000 docs (median) | cores used (median) | rounds |")
    print("| --- | --- | --- | --- | --- | --- |")
    for e, rs in runs.items():
        rows = list(rs.values())
        med = statistics.median(r["docs_per_s"] for r in rows)
        best = max(r["docs_per_s"] for r in rows)
        cpu = 1000 * statistics.median(cpu_per_doc(r) for r in rows)
        cores = statistics.median(r["cpu_seconds"] / r["seconds"] for r in rows)
        print(f"| {e} | {med:.1f} | {best:.1f} | {cpu:.1f} | {cores:.2f} | {len(rows)} |")
    print()
    print("| ratio | docs/s, paired by round: median (range) | CPU per document (median) |")
    print("| --- | --- | --- |")
    for mine, peer in [("docflow-int8", "st-fp32"), ("docflow-int8", "ort-int8"), ("docflow-int8", "ort-int8-pc"),
                       ("docflow-bf16", "st-fp32"), ("docflow-fp32", "st-fp32"), ("docflow-fp32", "ort-fp32"),
                       ("docflow-int8", "docflow-fp32")]:
        if mine not in runs or peer not in runs:
            continue
        rounds = sorted(set(runs[mine]) & set(runs[peer]))
        if not rounds:
            continue
        wall = [runs[mine][r]["docs_per_s"] / runs[peer][r]["docs_per_s"] for r in rounds]
        cpu = statistics.median(cpu_per_doc(runs[peer][r]) for r in runs[peer]) / statistics.median(
            cpu_per_doc(runs[mine][r]) for r in runs[mine])
        print(f"| {mine} / {peer} | {statistics.median(wall):.2f}x ({min(wall):.2f}–{max(wall):.2f}) | {cpu:.2f}x less |")


if __name__ == "__main__":
    main()
