#!/usr/bin/env bash
# The checks of `make test-valgrind`, on a build with HAK_VALGRIND (tests/valgrind/defconfig) in directory $1.
# Each run's valgrind output goes to $1/valgrind/<name>.log (one file per process for the suite).
#  1. use_after_free: memcheck must report its four accesses to freed blocks: exit status 99 (--error-exitcode),
#     four errors, each an invalid read or write inside a block hakmem freed ("free'd").
#  2. leak: --leak-check=full must report its four dropped blocks definitely lost, and nothing else lost.
#  3. clean: no error and no leak.
#  4. The Criterion suite under memcheck, with --jobs 1; Criterion runs every test in a process of its own, which
#     --trace-children=yes follows: every process must end with zero errors. deliberate.supp suppresses the
#     writes after free that two tests make on purpose, and those must be seen (the suite was built with the
#     client requests). The whole suite, the thread test with 4 threads x 500,000 blocks included (about 100 s of
#     the run: valgrind runs one thread at a time).
#  5. The demos: no error.
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
logs=$build/valgrind
rm -rf "$logs"
mkdir -p "$logs"
start=$SECONDS

fail() {
    echo "valgrind: FAILED: $1 (see $2)" >&2
    exit 1
}

# run NAME EXPECTED_STATUS VALGRIND_OPTION... -- PROGRAM...: the program under memcheck, its output in NAME.log.
run() {
    local name=$1 want=$2 opts=() status=0
    shift 2
    while [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
    valgrind --error-exitcode=99 --log-file="$logs/$name.log" "${opts[@]}" "$@" >"$logs/$name.out" 2>&1 || status=$?
    [ "$status" -eq "$want" ] || fail "$name exited with $status, expected $want" "$logs/$name.log"
}

# expect NAME PATTERN [COUNT]: the log has COUNT (default: at least one) lines matching the extended regex.
expect() {
    local n
    n=$(grep -cE "$2" "$logs/$1.log" || true)
    if [ -n "${3:-}" ]; then
        [ "$n" -eq "$3" ] || fail "$1: $n lines match '$2', expected $3" "$logs/$1.log"
    else
        [ "$n" -ge 1 ] || fail "$1: nothing matches '$2'" "$logs/$1.log"
    fi
}

echo "== valgrind memcheck: hakmem blocks seen by memcheck =="
run use_after_free 99 -- "$build/tests/valgrind/use_after_free"
expect use_after_free 'ERROR SUMMARY: 4 errors from 4 contexts'
expect use_after_free 'Invalid (read|write) of size' 4
expect use_after_free "bytes inside a block of size [0-9,]+ free'd" 4
grep -E "Invalid (read|write)|inside a block" "$logs/use_after_free.log" | sed 's/^==[0-9]*== */  /'

# ld.so keeps the cycles its relocation took in its own data (rtld's `relocate_time`), and under valgrind, whose
# client mappings start at 64 MiB, that count (about 80 M cycles on this machine) can fall inside the leaked 3 MiB
# huge block: memcheck then calls the block "possibly lost" (about 1 run in 100; vgdb's who_points_at named the
# pointer). Such a run is repeated once (another run, another count), and the same checks apply to the second.
for attempt in 1 2; do
    run leak 99 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible -- "$build/tests/valgrind/leak"
    [ "$attempt" = 1 ] && grep -qE 'possibly lost: [1-9]' "$logs/leak.log" || break
    echo "  leak: a block possibly lost (a stray value pointing into it?): once more; the first log is leak.first.log"
    mv "$logs/leak.log" "$logs/leak.first.log"
done
expect leak 'bytes in 1 blocks are definitely lost in loss record' 4
expect leak 'definitely lost: [0-9,]+ bytes in 4 blocks'
expect leak 'indirectly lost: 0 bytes in 0 blocks'
expect leak 'possibly lost: 0 bytes in 0 blocks'
grep -E "definitely lost|still reachable:" "$logs/leak.log" | sed 's/^==[0-9]*== */  /'

run clean 0 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible -- "$build/tests/valgrind/clean"
expect clean 'ERROR SUMMARY: 0 errors from 0 contexts'
grep -E "total heap usage|ERROR SUMMARY" "$logs/clean.log" | sed 's/^==[0-9]*== */  clean: /'

echo "== valgrind memcheck: the Criterion suite (one process per test) =="
status=0
valgrind --trace-children=yes --leak-check=no --suppressions="$here/deliberate.supp" \
    --log-file="$logs/suite.%p.log" "$build/tests/hakmem_tests" --jobs 1 2>&1 | tail -1 || status=$?
[ "$status" -eq 0 ] || fail "the suite failed under valgrind" "$logs/suite.*.log"
procs=$(ls "$logs"/suite.*.log | wc -l)
[ "$procs" -gt 1 ] || fail "valgrind did not follow Criterion's test processes" "$logs"
bad=$(grep -L 'ERROR SUMMARY: 0 errors from 0 contexts' "$logs"/suite.*.log || true)
[ -z "$bad" ] || fail "memcheck errors in $(echo "$bad" | wc -l) test process(es)" "$bad"
seen=$(grep -ho 'suppressed: [0-9]* from' "$logs"/suite.*.log | awk '{n += $2} END {print n + 0}')
[ "$seen" -ge 2 ] || fail "the deliberate writes after free were not seen: no client requests?" "$logs"
echo "  $procs processes, 0 errors ($seen deliberate writes after free suppressed: tests/valgrind/deliberate.supp)"

echo "== valgrind memcheck: demos =="
run per_subsystem 0 --leak-check=no -- "$build/examples/per_subsystem"
run capped_container 0 --leak-check=no -- "$build/examples/capped_container"
echo "valgrind: clean ($((SECONDS - start)) s; logs in $logs)"
