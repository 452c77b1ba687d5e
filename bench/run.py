#!/usr/bin/env python3
"""Runs the workloads of ../shared/BENCHMARKS.md for every allocator that can do them, alternating the
allocators run by run (A B C A B C ...) after one warm-up run each, and prints per workload and allocator: the
median throughput, min-max, CV, peak RSS (the process's VmHWM, the maximum over the runs), hakmem's peak committed
bytes and platform calls per op (its own counter, over the timed loop), OS memory syscalls per op counted by
strace for every allocator, and the ratio to mimalloc taken run pair by run pair, then the median.
Then it rewrites bench/RESULTS.md (keeping the hand-written notes below NOTES_MARKER) and bench/results.png.
Progress goes to stderr, the tables to stdout."""
import argparse
import datetime
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NOTES_MARKER = "<!-- notes below are kept when regenerating -->"

# key: (binary bench_<alloc>, variant argument, label in tables and charts)
VARIANTS = {
    "hk-unsync": ("hakmem", "unsync", "hakmem unsync arena"),
    "hk-default": ("hakmem", "default", "hakmem default arena"),
    "hk-lean": ("hakmem", "lean-unsync", "hakmem lean unsync arena"),
    "hk-static": ("hakmem_static", "unsync", "hakmem unsync, freestanding static pool"),
    # The Linux build linked statically as the freestanding one is (static_pool compares the platforms alone; every
    # other row links hakmem's shared library, as the peers' are linked).
    "hk-unsync-a": ("hakmem_a", "unsync", "hakmem unsync arena, linked statically"),
    "glibc": ("glibc", "malloc", "glibc malloc"),
    "mimalloc": ("mimalloc", "heap", "mimalloc heap"),
    "je-arena": ("jemalloc", "arena", "jemalloc arena, no tcache"),
    "je-tcache": ("jemalloc", "arena-tcache", "jemalloc arena + tcache"),
    "tcmalloc": ("tcmalloc", "malloc", "tcmalloc (gperftools)"),
    "hk-preload": ("glibc", "malloc", "hakmem shim (LD_PRELOAD)"),
    "mi-preload": ("glibc", "malloc", "mimalloc (LD_PRELOAD)"),
    # Not an allocator: the benchmark loop around a bare pop and push per size class (bench/alloc.h, BENCH_FLOOR),
    # i.e. the most any size-class allocator could reach on random_mixed.
    "floor": ("floor", "classes", "floor: bare size-class lists, no allocator"),
}
# Variants that run the glibc driver with another malloc preloaded (issue 7): the library for LD_PRELOAD, relative
# to the directory of the bench binaries where it starts with "../".
PRELOAD = {"hk-preload": "../libhakmem-malloc.so", "mi-preload": "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"}
PEERS = ["glibc", "mimalloc", "je-arena", "je-tcache", "tcmalloc"]
SINGLE = ["hk-unsync", "hk-default", "hk-lean"] + PEERS  # single-thread workloads
SHARED = ["hk-default"] + PEERS  # two threads: hakmem needs thread-safe arenas
PRELOADED = ["hk-preload", "mi-preload", "mimalloc", "glibc"]  # the glibc driver with a malloc preloaded


class Workload:
    def __init__(self, name, op, full, quick, empty, variants, heavy=False, driver=None, threads=1):
        self.name, self.op, self.full, self.quick, self.empty = name, op, full, quick, empty
        self.variants, self.heavy, self.threads = variants, heavy, threads
        self.driver = driver or name  # the workload argument of the bench binary


# Arguments after the variant: full size (BENCHMARKS.md), quick size, and the near-empty run strace subtracts.
WORKLOADS = [
    Workload("random_mixed", "alloc or free; sizes 16..1024, ws 400, seed 1",
             ["20000000", "400", "1"], ["2000000", "400", "1"], ["1", "400", "1"], SINGLE + ["floor"]),
    Workload("random_mixed_large", "alloc or free; sizes 1..64 KiB, ws 400, seed 1",
             ["2000000", "400", "1"], ["200000", "400", "1"], ["1", "400", "1"], SINGLE),
    Workload("arena_lifecycle", "allocation; cycles of create + 100 allocs of 16..512 B + destroy",
             ["200000", "100", "1"], ["10000", "100", "1"], ["1", "100", "1"], SINGLE, heavy=True),
    Workload("realloc_grow", "alloc, realloc or free; buffers grown 16 B..256 KiB by x1.5 + 1..64 B",
             ["10000", "262144", "1"], ["1000", "262144", "1"], ["1", "262144", "1"], SINGLE, heavy=True),
    Workload("xthread", "block allocated by one thread, freed by the other; 16..256 B, ring 4096",
             ["10000000", "4096", "1"], ["1000000", "4096", "1"], ["1", "4096", "1"], SHARED, threads=2),
    Workload("larson_like", "slot op (2 threads, 10 blocks handed over per 1000 ops); 16..512 B, ws 1000",
             ["10000000", "1000", "1"], ["1000000", "1000", "1"], ["1", "1000", "1"], SHARED, threads=2),
    # The workloads that work through malloc, with the shim and mimalloc both preloaded (issue 7).
    Workload("preload_random_mixed", "alloc or free through malloc; sizes 16..1024, ws 400, seed 1",
             ["20000000", "400", "1"], ["2000000", "400", "1"], ["1", "400", "1"], PRELOADED, driver="random_mixed"),
    Workload("preload_realloc_grow", "malloc, realloc or free; buffers grown 16 B..256 KiB by x1.5 + 1..64 B",
             ["10000", "262144", "1"], ["1000", "262144", "1"], ["1", "262144", "1"], PRELOADED, heavy=True,
             driver="realloc_grow"),
    Workload("preload_xthread", "malloc in one thread, free in the other; 16..256 B, ring 4096",
             ["10000000", "4096", "1"], ["1000000", "4096", "1"], ["1", "4096", "1"], PRELOADED, driver="xthread",
             threads=2),
    Workload("preload_larson_like", "slot op through malloc (2 threads); 16..512 B, ws 1000",
             ["10000000", "1000", "1"], ["1000000", "1000", "1"], ["1", "1000", "1"], PRELOADED,
             driver="larson_like", threads=2),
    Workload("static_pool", "alloc or free; random_mixed on the freestanding platform (host build, static pool)",
             ["20000000", "400", "1"], ["2000000", "400", "1"], ["1", "400", "1"], ["hk-static", "hk-unsync-a", "mimalloc"],
             driver="random_mixed"),
]
SYSCALLS = "mmap,munmap,mremap,madvise,mprotect,brk"
# Single-thread runs are pinned to this CPU (every allocator alike; main() sets it unless --no-pin): a run the
# scheduler moves between cores starts over with cold caches, and such moves were most of the run-to-run spread.
PIN_CPU = None


def run(bin_dir, key, wl, args, prefix=()):
    alloc, variant, _ = VARIANTS[key]
    cmd = list(prefix) + [os.path.join(bin_dir, "bench_" + alloc), wl.driver, variant] + args
    env = dict(os.environ)
    if key in PRELOAD:
        lib = PRELOAD[key]
        env["LD_PRELOAD"] = os.path.normpath(os.path.join(bin_dir, lib)) if lib.startswith("../") else lib
    pin = None
    if PIN_CPU is not None and wl.threads == 1:
        def pin():
            os.sched_setaffinity(0, {PIN_CPU})
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, preexec_fn=pin)
    if p.returncode != 0:
        sys.exit(f"run.py: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    res, steady = None, None
    for line in p.stdout.splitlines():
        if line.startswith("RESULT ") or line.startswith("STEADY "):
            r = dict(kv.split("=", 1) for kv in line.split()[1:])
            if line.startswith("STEADY "):  # hakmem's platform calls after the first 1% of ops (random_mixed)
                steady = int(r["calls"]) / float(r["ops"])
            else:
                res = {"ops": float(r["ops"]), "sec": float(r["sec"]), "rss": int(r["peak_rss_kb"]),
                       "anon": int(r.get("anon_kb", -1)), "committed": int(r["committed"]), "calls": int(r["calls"])}
    if res is None:
        sys.exit(f"run.py: no RESULT line from {' '.join(cmd)}")
    res["steady"] = steady
    return res


def strace_calls(bin_dir, key, wl, args):
    """OS memory syscalls of a whole run, counted by strace -f -c, and the run's op count."""
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as f:
        r = run(bin_dir, key, wl, args, ["strace", "-f", "-c", "-e", "trace=" + SYSCALLS, "-o", f.name])
        total = 0
        for line in f.read().splitlines():
            t = line.split()
            if t and t[-1] == "total":
                total = int(t[3])
        return total, r["ops"]


def fmt_ops(x):
    return f"{x / 1e6:.1f}" if x >= 1e6 else f"{x / 1e6:.3f}"


def fmt_rate(x):
    return "0" if x == 0 else f"{x:.2g}"


def summarize(wl, results, straced):
    mi = results["mimalloc"]
    rows = []
    for key in wl.variants:
        rs = results[key]
        thr = [r["ops"] / r["sec"] for r in rs]
        row = {"key": key, "label": VARIANTS[key][2], "median": statistics.median(thr), "min": min(thr),
               "max": max(thr), "cv": statistics.stdev(thr) / statistics.mean(thr) * 100 if len(thr) > 1 else 0.0,
               "ratio": statistics.median((r["ops"] / r["sec"]) / (m["ops"] / m["sec"]) for r, m in zip(rs, mi)),
               "rss": max(r["rss"] for r in rs), "anon": max(r["anon"] for r in rs),
               "committed": max(r["committed"] for r in rs),
               "calls": None if rs[0]["calls"] < 0 else max(r["calls"] / r["ops"] for r in rs),
               "steady": None if rs[0]["steady"] is None else max(r["steady"] for r in rs),
               "strace": straced.get(key), "thr": thr}
        rows.append(row)
    return rows


def table(wl, rows, runs):
    out = [f"### {wl.name}", "",
           f"An op is one {wl.op}. {runs} alternating runs per allocator.", "",
           "| allocator | median Mops/s | min-max | CV | ratio to mimalloc | peak RSS KiB | anon RSS KiB at the end "
           "| hakmem peak committed KiB | hakmem platform calls/op | OS memory syscalls/op (strace) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        committed = "-" if r["committed"] < 0 else f"{r['committed'] // 1024}"
        calls = "-" if r["calls"] is None else fmt_rate(r["calls"])
        st = "-" if r["strace"] is None else fmt_rate(r["strace"])
        out.append(f"| {r['label']} | {fmt_ops(r['median'])} | {fmt_ops(r['min'])}-{fmt_ops(r['max'])} "
                   f"| {r['cv']:.1f}% | {r['ratio']:.3f} | {r['rss']} | {r['anon'] if r['anon'] >= 0 else '-'} "
                   f"| {committed} | {calls} | {st} |")
    return "\n".join(out) + "\n"


def pair_ratio(a, b):
    """Median over run pairs of a's throughput / b's."""
    return statistics.median(x / y for x, y in zip(a["thr"], b["thr"]))


def targets(summaries):
    """The targets of issues 3, 4, 6 and 7 that the workloads run here can check: (target, measured, met)."""
    by = {wl.name: {r["key"]: r for r in rows} for wl, rows in summaries}
    out = []

    def ratio(wl, key, goal, what):
        if wl in by and key in by[wl]:
            v = by[wl][key]["ratio"]
            floor = by[wl].get("floor")  # what the loop allows at all
            note = f" (the floor: {floor['ratio']:.3f}x)" if floor else ""
            out.append((f"{wl}, {what}: >= {goal}x mimalloc", f"{v:.3f}x{note}", v >= goal))

    ratio("random_mixed", "hk-unsync", 1.25, "unsynchronized arena")
    ratio("random_mixed", "hk-default", 1.10, "default (thread-safe) arena")
    ratio("random_mixed_large", "hk-unsync", 1.0, "unsynchronized arena")
    ratio("realloc_grow", "hk-unsync", 1.0, "unsynchronized arena")
    ratio("arena_lifecycle", "hk-unsync", 2.0, "unsynchronized arena")
    if "arena_lifecycle" in by:
        w = by["arena_lifecycle"]
        je = [k for k in ("je-arena", "je-tcache") if k in w]
        if "hk-unsync" in w and je:
            v = min(pair_ratio(w["hk-unsync"], w[k]) for k in je)
            out.append(("arena_lifecycle: >= 2x jemalloc's arena create/destroy (the faster jemalloc variant)",
                        f"{v:.1f}x", v >= 2.0))
    if "random_mixed" in by:
        w = by["random_mixed"]
        for key, peer, what in (("hk-lean", "glibc", "lean"), ("hk-unsync", "mimalloc", "fast")):
            if key in w and peer in w:
                a, b = w[key]["rss"], w[peer]["rss"]
                anon = (f"; anonymous at the end {w[key]['anon']} vs {w[peer]['anon']} KiB"
                        f" ({w[key]['anon'] / w[peer]['anon']:.2f}x)" if min(w[key]["anon"], w[peer]["anon"]) > 0 else "")
                out.append((f"random_mixed peak RSS, {what}: <= {VARIANTS[peer][2]}'s",
                            f"{a} vs {b} KiB ({a / b:.2f}x){anon}", a <= b))
        for key, goal, what in (("hk-unsync", 1e-8, "fast"), ("hk-lean", 1e-6, "lean")):
            if key in w and w[key]["calls"] is not None:
                v = w[key]["calls"]
                out.append((f"random_mixed platform calls/op over the timed loop, {what}: <= {goal:g}", fmt_rate(v),
                            v <= goal))
            if key in w and w[key]["steady"] is not None:
                v = w[key]["steady"]
                out.append((f"the same after the loop's first 1% of ops (steady state), {what}: <= {goal:g}",
                            fmt_rate(v), v <= goal))
        for key in ("hk-unsync", "hk-default"):
            if key in w:
                v = w[key]["cv"]
                out.append((f"random_mixed throughput CV, {VARIANTS[key][2]}: <= 1.5%", f"{v:.1f}%", v <= 1.5))
    if "random_mixed" in by and {"hk-default", "hk-unsync"} <= set(by["random_mixed"]):
        v = pair_ratio(by["random_mixed"]["hk-default"], by["random_mixed"]["hk-unsync"])
        out.append(("random_mixed (issue 4): default arena >= 0.95x the unsynchronized one", f"{v:.3f}x", v >= 0.95))
    ratio("xthread", "hk-default", 1.0, "default arena (issue 4)")
    ratio("larson_like", "hk-default", 1.0, "default arena (issue 4)")
    for name in ("preload_random_mixed", "preload_realloc_grow", "preload_xthread", "preload_larson_like"):
        if name in by and {"hk-preload", "mi-preload"} <= set(by[name]):
            v = pair_ratio(by[name]["hk-preload"], by[name]["mi-preload"])
            out.append((f"{name} (issue 7): hakmem's shim >= 1.0x mimalloc's, both preloaded", f"{v:.3f}x", v >= 1.0))
    if "static_pool" in by and {"hk-static", "hk-unsync-a"} <= set(by["static_pool"]):
        w = by["static_pool"]
        v = pair_ratio(w["hk-static"], w["hk-unsync-a"])
        out.append(("static_pool (issue 6): random_mixed on the static pool >= the Linux build's", f"{v:.3f}x", v >= 1.0))
    if not out:
        return ""
    lines = ["### Targets of issues 3 and 4 (and of issues 6 and 7)", "", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {'yes' if ok else '**no**'} |" for t, m, ok in out]
    return "\n".join(lines) + "\n"


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=HERE).stdout.strip()
    except OSError:
        return ""


def machine(bin_dir):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_gib = int(f.readline().split()[1]) / 2**20
    commit = sh(["git", "rev-parse", "--short", "HEAD"]) or "?"
    if sh(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no", "--", ":/",
           ":(top,exclude)bench/RESULTS.md", ":(top,exclude)bench/results.png"]):  # (its own outputs do not count)
        commit += " (with uncommitted changes in the tree)"
    versions = ", ".join(sh([os.path.join(bin_dir, "bench_" + a), "version"])
                         for a in ("glibc", "mimalloc", "jemalloc", "tcmalloc"))
    cfg = os.path.join(bin_dir, "..", ".config")
    if not os.path.exists(cfg):
        cfg = os.path.join(HERE, "..", ".config")
    hak = "?"
    if os.path.exists(cfg):
        with open(cfg) as f:
            hak = " ".join(l.strip().replace("CONFIG_HAK_", "") for l in f
                           if l.startswith("CONFIG_HAK_") and not l.startswith("CONFIG_HAK_PLATFORM_FREE"))
    cc = sh(["cc", "--version"]).splitlines()
    return {"cpu": cpu, "cores": os.cpu_count(), "mem": f"{mem_gib:.0f} GiB", "kernel": platform.release(),
            "cc": cc[0] if cc else "?", "commit": commit, "peers": versions, "hakmem": hak}


def write_results(path, m, command, quick, tables, goals, png_ok, elapsed, load):
    notes = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        if NOTES_MARKER in old:
            notes = old.split(NOTES_MARKER, 1)[1]
        else:  # never lose hand-written text: keep the whole old file as notes
            print(f"run.py: {path} had no notes marker; keeping all of it below the marker", file=sys.stderr)
            notes = "\n\n" + old
    head = [
        "# hakmem benchmark results", "",
        "Generated by `bench/run.py` (the workloads of ../shared/BENCHMARKS.md); everything above the notes marker is "
        "rewritten on every run.", "",
        f"- Date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}. "
        f"Commit: {m['commit']}.",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['mem']}, Linux {m['kernel']}; {m['cc']}.",
        f"- Peers: {m['peers']} (Debian packages; tcmalloc is libtcmalloc_minimal).",
        f"- hakmem build: {m['hakmem']}. Every driver is built with -O2 and calls its allocator in a shared library "
        "(hakmem's libhakmem.so, libmimalloc, libjemalloc, libtcmalloc_minimal, glibc), except the freestanding "
        "static-pool build and its statically linked Linux reference; \"lean\" is the same library with the arena "
        "created with HAK_POLICY_LEAN. The floor is no library: its lists are inlined into the benchmark loop.",
        f"- Command: `{command}`{' (QUICK: reduced sizes, a quick look, not the reference numbers)' if quick else ''}"
        f"; took {elapsed / 60:.1f} min. Load average when it started: {load:.2f} (other work on the machine "
        "inflates the CV, the two-thread workloads most).",
        "- Method: one binary per allocator; the allocators alternate run by run after one warm-up run each; "
        "throughput = ops / wall time of the timed loop; the ratio to mimalloc is taken per run pair, then the "
        "median; CV = sample stdev / mean of the runs' throughput. Single-thread workloads run pinned to one CPU, the same "
        "for every allocator (`--no-pin` to not); the two-thread ones are not pinned. Peak RSS = the process's VmHWM (max "
        "over runs; it includes the file-backed pages of the program and its libraries); anon RSS = RssAnon when the "
        "workload reports (max over runs): random_mixed and realloc_grow report before their heap is destroyed, the "
        "others after. "
        "hakmem's committed bytes and platform calls come from `hak_arena_stats` (calls counted over the timed loop "
        "only, so 0 means none in steady state). The strace column counts " + SYSCALLS.replace(",", "/") +
        " over a whole quick-size run minus a near-empty run, for every allocator.",
        "- static_pool runs the random_mixed driver linked with the freestanding platform compiled for the host "
        "(bench/static_pool/host_64m_defconfig: a 64 MiB static pool, SuperSlabs and slices as on Linux: 1 MiB and 16 KiB); its "
        "utilisation and per-call instruction bounds come from bench/static_pool/ (see the notes). Not in this run: "
        "soak (`scripts/soak.sh MINUTES`, too long for `make bench`; its results belong in the notes).", "",
    ]
    if png_ok:
        head += ["![throughput ratio to mimalloc and peak RSS per workload](results.png)", ""]
    body = "\n".join(head) + "\n" + goals + "\n" + "\n".join(tables)
    with open(path, "w") as f:
        f.write(body.rstrip("\n") + "\n\n" + NOTES_MARKER + notes)


# Chart rows, top to bottom: hakmem's variants, then the peers, then the floor.
CHART_ORDER = ["hk-unsync", "hk-default", "hk-lean", "hk-static", "hk-unsync-a", "hk-preload", "mimalloc",
               "mi-preload", "glibc", "je-arena", "je-tcache", "tcmalloc", "floor"]


def plot(summaries, data_dir, png):
    if not shutil.which("gnuplot"):
        print("run.py: gnuplot not found, no chart", file=sys.stderr)
        return False
    present = {r["key"] for _, rows in summaries for r in rows}
    order = [k for k in CHART_ORDER if k in present]
    ratio_dat = os.path.join(data_dir, "results_ratio.dat")
    rss_dat = os.path.join(data_dir, "results_rss.dat")
    clamp = lambda x: max(-1.0, min(1.0, math.log2(x)))
    with open(ratio_dat, "w") as fr, open(rss_dat, "w") as fm:
        for x, (wl, rows) in enumerate(summaries):
            by = {r["key"]: r for r in rows}
            for y, k in enumerate(order):
                if k not in by:
                    continue
                r = by[k]
                fr.write(f'{x} {y} {clamp(r["ratio"]):.4f} "{r["ratio"]:.2f}"\n')
                fm.write(f'{x} {y} {clamp(by["mimalloc"]["rss"] / r["rss"]):.4f} "{r["rss"] / 1024:.1f}"\n')
    tics = lambda names: "(" + ", ".join(f'"{n}" {i}' for i, n in enumerate(names)) + ")"
    xt = tics(wl.name for wl, _ in summaries)
    yt = tics(VARIANTS[k][2] for k in order)
    p = subprocess.run(["gnuplot", "-e", f"ratio='{ratio_dat}'; rss='{rss_dat}'; out='{png}'; nw={len(summaries)}; "
                        f"na={len(order)}; xt='{xt}'; yt='{yt}'", os.path.join(HERE, "results.gp")],
                       capture_output=True, text=True)
    if p.returncode != 0:
        print(f"run.py: gnuplot failed:\n{p.stderr}", file=sys.stderr)
        return False
    return True


def settle(max_wait, below=0.3):
    """Waits (up to max_wait seconds) for the 1-minute load average to fall below `below`, so that the builds that
    just ran (make builds the drivers right before) do not inflate the first workloads' CV. Returns the load."""
    waited = 0.0
    while os.getloadavg()[0] >= below and waited < max_wait:
        if waited == 0:
            print(f"run.py: load average {os.getloadavg()[0]:.2f}; waiting up to {max_wait:.0f} s for it to settle",
                  file=sys.stderr)
        time.sleep(5)
        waited += 5
    return os.getloadavg()[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", default="build/bench")
    ap.add_argument("--runs", type=int, default=7, help="alternating runs per allocator (heavy workloads: at most 5)")
    ap.add_argument("--quick", action="store_true", help="reduced sizes (about 1 minute)")
    ap.add_argument("--only", help="comma-separated workloads to run (default: all)")
    ap.add_argument("--no-strace", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md and results.png alone")
    ap.add_argument("--command", help="the command to record in RESULTS.md")
    ap.add_argument("--no-pin", action="store_true", help="let the scheduler place single-thread runs")
    args = ap.parse_args()
    global PIN_CPU
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not args.no_pin and len(cpus) > 1:
        PIN_CPU = cpus[-1]
    if args.runs < 1:
        ap.error("--runs must be >= 1")
    args.bin_dir = os.path.abspath(args.bin_dir)
    workloads = WORKLOADS
    if args.only:
        names = args.only.split(",")
        workloads = [w for w in WORKLOADS if w.name in names]
        if len(workloads) != len(names):
            ap.error(f"unknown workload in {args.only}; known: {', '.join(w.name for w in WORKLOADS)}")
    use_strace = not args.no_strace and shutil.which("strace")
    load = settle(0.0 if args.quick else 90.0)
    start = time.monotonic()
    summaries, tables = [], []
    for wl in workloads:
        size = wl.quick if args.quick else wl.full
        runs = min(args.runs, 5) if wl.heavy and not args.quick else args.runs
        for key in wl.variants:  # warm-up
            run(args.bin_dir, key, wl, wl.quick)
        results = {k: [] for k in wl.variants}
        for r in range(runs):
            for key in wl.variants:
                results[key].append(run(args.bin_dir, key, wl, size))
            print(f"[{time.monotonic() - start:6.0f}s] {wl.name}: run {r + 1}/{runs} done", file=sys.stderr)
        straced = {}
        if use_strace:
            for key in wl.variants:
                full_calls, full_ops = strace_calls(args.bin_dir, key, wl, wl.quick)
                empty_calls, empty_ops = strace_calls(args.bin_dir, key, wl, wl.empty)
                straced[key] = max(0, full_calls - empty_calls) / (full_ops - empty_ops)
            print(f"[{time.monotonic() - start:6.0f}s] {wl.name}: strace counts done", file=sys.stderr)
        rows = summarize(wl, results, straced)
        t = table(wl, rows, runs)
        print(t, flush=True)
        summaries.append((wl, rows))
        tables.append(t)
    elapsed = time.monotonic() - start
    goals = targets(summaries)
    print(goals, flush=True)
    print(f"run.py: {len(workloads)} workloads in {elapsed / 60:.1f} min", file=sys.stderr)
    if args.no_write:
        return
    png_ok = plot(summaries, args.bin_dir, os.path.join(HERE, "results.png"))
    command = args.command or "/usr/bin/python3 bench/run.py " + " ".join(sys.argv[1:])
    write_results(os.path.join(HERE, "RESULTS.md"), machine(args.bin_dir), command, args.quick, tables, goals,
                  png_ok, elapsed, load)
    print(f"run.py: wrote bench/RESULTS.md{' and bench/results.png' if png_ok else ''}", file=sys.stderr)


if __name__ == "__main__":
    main()
