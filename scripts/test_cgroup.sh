#!/usr/bin/env bash
# In a real memory cgroup of 64 MiB: a process allocating until ENOMEM must not be killed, must see a budget of
# 90% of 64 MiB (the Kconfig default) or what HAKMEM_LIMIT says, and must keep its RSS under the limit.
# Needs root and a writable cgroup (v2 with the memory controller, or v1's memory hierarchy); where none can be
# made the test says SKIPPED — it does not pass. With a second binary (examples/capped_container, a service whose
# cache fills the budget while a request arena is reset after every request) it also runs that there three times:
# it must finish, never killed. Usage: scripts/test_cgroup.sh CHILD_BINARY [SERVICE_BINARY]
set -euo pipefail
child=$1
service=${2:-}
limit=$((64 << 20))
cg=""
cleanup() { [ -n "$cg" ] && rmdir "$cg" 2>/dev/null || true; }
trap cleanup EXIT

# A mountinfo line's type is the field after the "-" that ends its optional fields (none, one or more: $9 is the
# type only with exactly one, else the source or the "-"), its super options the last field.
v2=$(awk '{t = 7; while (t < NF && $t != "-") t++} $(t + 1) == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
v1=$(awk '{t = 7; while (t < NF && $t != "-") t++} $(t + 1) == "cgroup" && $NF ~ /(^|,)memory(,|$)/ {print $5; exit}' \
     /proc/self/mountinfo)
if [ -n "$v2" ] && grep -qw memory "$v2/cgroup.controllers" 2>/dev/null &&
   mkdir "$v2/hakmem-test-$$" 2>/dev/null; then
    cg="$v2/hakmem-test-$$"
    if ! { echo $limit > "$cg/memory.max"; } 2>/dev/null; then rmdir "$cg"; cg=""; fi
    [ -z "$cg" ] || { echo 0 > "$cg/memory.swap.max"; } 2>/dev/null || true
fi
if [ -z "$cg" ] && [ -n "$v1" ] && mkdir "$v1/hakmem-test-$$" 2>/dev/null; then
    cg="$v1/hakmem-test-$$"
    if ! { echo $limit > "$cg/memory.limit_in_bytes"; } 2>/dev/null; then rmdir "$cg"; cg=""; fi
fi
if [ -z "$cg" ]; then
    echo "cgroup test: SKIPPED (no writable memory cgroup here; needs root and cgroup v1 or v2 with memory)"
    exit 0
fi

run() { # env assignment (or empty) [binary, default the child] -> prints its output; fails if it failed or was killed
    local out status bin=${2:-$child}
    set +e
    out=$(env $1 sh -c 'echo $$ > "$0/cgroup.procs" && exec "$1"' "$cg" "$bin")
    status=$?
    set -e
    if [ $status -ne 0 ]; then
        echo "cgroup test: FAILED ($(basename "$bin") $1: exit status $status$([ $status -gt 128 ] && echo ", killed by signal $((status - 128))"))" >&2
        exit 1
    fi
    echo "$out"
}
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }

check() { # label, env, expected budget
    local out budget rss
    out=$(run "$2")
    budget=$(field budget "$out")
    rss=$(field rss "$out")
    echo "  $1: $out"
    [ "$budget" = "$3" ] || { echo "cgroup test: FAILED ($1: budget $budget, expected $3)"; exit 1; }
    [ "$(field errno "$out")" = ENOMEM ] || { echo "cgroup test: FAILED ($1: did not end with ENOMEM)"; exit 1; }
    [ $((rss * 1024)) -lt $limit ] || { echo "cgroup test: FAILED ($1: RSS $rss KiB over the limit)"; exit 1; }
}

echo "cgroup test: in $cg, memory limit 64 MiB"
check "default (90%)" "" $((limit * 90 / 100))
check "HAKMEM_LIMIT=32MiB" "HAKMEM_LIMIT=32MiB" $((32 << 20))
check "HAKMEM_LIMIT=75%" "HAKMEM_LIMIT=75%" $((limit * 75 / 100))
if [ -n "$service" ]; then
    for i in 1 2 3; do
        out=$(run "" "$service")
    done
    echo "  $(basename "$service"), 3 runs: $(grep -m1 requests <<<"$out")"
fi
echo "cgroup test: passed (never killed, budget from the cgroup and HAKMEM_LIMIT, RSS under the limit)"
