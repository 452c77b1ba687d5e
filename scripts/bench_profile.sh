#!/bin/bash
# Instructions per call of hak_alloc/hak_free (and mimalloc's mi_heap_malloc/mi_free) on random_mixed, counted by
# valgrind --tool=callgrind (inclusive: everything the call executes). Prints a Markdown snippet for the notes
# section of bench/RESULTS.md.
#   scripts/bench_profile.sh [BIN_DIR=build/bench] [OPS=2000000]        (make bench-profile runs it)
set -euo pipefail
bin=${1:-build/bench}
ops=${2:-2000000}
command -v valgrind >/dev/null || { echo "bench_profile: valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

profile() { # ALLOC VARIANT FUNCTIONS...
    local alloc=$1 variant=$2
    shift 2
    valgrind --tool=callgrind --callgrind-out-file="$tmp/$alloc.out" "$bin/bench_$alloc" random_mixed "$variant" \
        "$ops" 400 1 >/dev/null 2>"$tmp/$alloc.log" || { cat "$tmp/$alloc.log" >&2; exit 1; }
    callgrind_annotate --inclusive=yes --tree=calling "$tmp/$alloc.out" >"$tmp/$alloc.txt"
    /usr/bin/python3 - "$tmp/$alloc.txt" "$alloc $variant" "$ops" "$@" <<'PY'
import re, sys
path, label, ops = sys.argv[1], sys.argv[2], int(sys.argv[3])
# each name is SYMBOL or LABEL=SYMBOL (mimalloc's mi_free is an alias of its free, and callgrind shows "free")
alias = {a.split("=")[-1]: a.split("=")[0] for a in sys.argv[4:]}
names = list(alias)
line_re = re.compile(r"^\s*([\d,]+) \([ \d.%]+\)\s+(\*|=?>)\s+(\S+)(?: \(([\d,]+)x\))?")
ir = {n: 0 for n in names}
calls = {n: 0 for n in names}
caller, loop = "", 0
for line in open(path):
    m = line_re.match(line)
    if not m:
        continue
    cost, kind, fn, count = int(m[1].replace(",", "")), m[2], m[3], m[4]
    if kind == "*":
        caller = fn
        if fn.endswith(":mixed_run") and re.search(r"(^|/)bench/random_mixed\.c:", fn):
            loop = max(loop, cost)
    elif re.search(r"(^|/)bench/", caller) and count:  # a call made by the benchmark's own code
        name = fn.rsplit(":", 1)[-1]
        if name in ir:
            ir[name] += cost
            calls[name] += int(count.replace(",", ""))
parts = [f"{alias[n]} {ir[n] / calls[n]:.1f} ({calls[n]:,} calls)" for n in names if calls[n]]
missing = [n for n in names if not calls[n]]
if missing:
    sys.exit(f"bench_profile: no calls to {', '.join(missing)} from the benchmark found in {label}")
print(f"- {label}: " + ", ".join(parts) + f"; the whole loop {loop / ops:.1f} instructions per op")
PY
}

echo "Instructions per call, inclusive (valgrind --tool=callgrind, random_mixed $ops ops, ws 400, seed 1;"
echo "\`scripts/bench_profile.sh $bin $ops\`, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(
    [ -z "$(git --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null)" ] || echo ' with uncommitted changes')):"
echo
profile hakmem unsync hak_alloc hak_free
profile hakmem default hak_alloc hak_free
profile mimalloc heap mi_heap_malloc mi_free=free
