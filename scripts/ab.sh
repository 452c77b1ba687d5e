#!/bin/bash
# Alternating A/B timing of two bench driver commands (each prints a RESULT line with sec=):
#   scripts/ab.sh N CMD_A... -- CMD_B...
# runs A B A B ... N times and prints the median seconds of each and the median over run pairs of time(B)/time(A)
# (below 1: B is faster). Pairing adjacent runs cancels most of a noisy machine's drift.
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,5p' "$0"; exit 2; }
n=$1; shift
a=(); while [ "$1" != "--" ]; do a+=("$1"); shift; done; shift; b=("$@")
secs() { "$@" 2>&1 | grep -o 'sec=[0-9.]*' | cut -d= -f2; }
for ((i = 0; i < n; i++)); do
    echo "$(secs "${a[@]}") $(secs "${b[@]}")"
done | python3 -c '
import statistics as st, sys
r = [tuple(map(float, l.split())) for l in sys.stdin if l.strip()]
print("A median %.4f s  B median %.4f s  B/A time, median of %d pairs: %.3f" %
      (st.median(x[0] for x in r), st.median(x[1] for x in r), len(r), st.median(x[1] / x[0] for x in r)))'
