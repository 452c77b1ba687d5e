#!/usr/bin/env python3
"""Runs bench/random_mixed for every allocator, alternating (A B C A B C ...), and prints per variant the median
throughput, min-max, CV, peak RSS, hakmem's peak committed bytes and platform calls per op, and the ratio to
mimalloc taken run pair by run pair (then the median), as ../shared/BENCHMARKS.md asks."""
import argparse
import os
import statistics
import subprocess
import sys

VARIANTS = [  # (binary suffix, variant argument, label)
    ("hakmem", "unsync", "hakmem unsynchronized arena"),
    ("hakmem", "default", "hakmem default (thread-safe) arena"),
    ("hakmem", "lean-unsync", "hakmem lean, unsynchronized"),
    ("glibc", "malloc", "glibc malloc"),
    ("mimalloc", "heap", "mimalloc heap (mi_heap_malloc)"),
]


def run(bin_dir, suffix, variant, extra):
    out = subprocess.run([os.path.join(bin_dir, "random_mixed_" + suffix), variant] + extra,
                         check=True, capture_output=True, text=True).stdout.split()
    return {"ops": float(out[2]), "rss": int(out[3]), "committed": out[4], "calls": out[5]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", default="build/bench")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--ops", default="20000000")
    args = ap.parse_args()
    extra = [args.ops, "400", "1"]
    for suffix, variant, _ in VARIANTS:  # warm-up
        run(args.bin_dir, suffix, variant, ["200000", "400", "1"])
    results = {v: [] for v in VARIANTS}
    for r in range(args.runs):
        for v in VARIANTS:
            results[v].append(run(args.bin_dir, v[0], v[1], extra))
        print(f"run {r + 1}/{args.runs} done", file=sys.stderr)
    mi = results[VARIANTS[-1]]
    print(f"random_mixed: {args.ops} ops, working set 400, seed 1, {args.runs} alternating runs each\n")
    print("| allocator | median Mops/s | min-max | CV | ratio to mimalloc (median of pairs) | peak RSS KiB "
          "| peak committed | platform calls/op |")
    print("|---|---|---|---|---|---|---|---|")
    for v in VARIANTS:
        rs = results[v]
        ops = [x["ops"] for x in rs]
        med = statistics.median(ops)
        cv = statistics.pstdev(ops) / statistics.mean(ops) * 100
        ratio = statistics.median(x["ops"] / m["ops"] for x, m in zip(rs, mi))
        rss = max(x["rss"] for x in rs)
        print(f"| {v[2]} | {med / 1e6:.1f} | {min(ops) / 1e6:.1f}-{max(ops) / 1e6:.1f} | {cv:.1f}% "
              f"| {ratio:.3f} | {rss} | {rs[0]['committed']} | {rs[0]['calls']} |")


if __name__ == "__main__":
    main()
