#!/bin/bash
# soak (../shared/BENCHMARKS.md, workload 8): random_mixed (16..1024 B, ws 400) without end on one unsynchronized
# hakmem arena, once with the fast policy and once with lean, MINUTES each, in epochs of SOAK_EPOCH seconds (5).
# Writes $OUT/soak-fast.csv and soak-lean.csv (epoch,seconds,ops_per_s,rss_kib; RSS = VmRSS at the epoch's end)
# and $OUT/soak.png, and prints per policy the RSS drift (last epoch vs the first steady epoch, the second one)
# and the throughput CV across the steady epochs.
#   scripts/soak.sh [MINUTES=10]        env: BUILD (build), OUT ($BUILD/soak), SOAK_EPOCH (5), SOAK_WS (400)
set -euo pipefail
minutes=${1:-10}
build=${BUILD:-build}
out=${OUT:-$build/soak}
epoch=${SOAK_EPOCH:-5}
ws=${SOAK_WS:-400}
seconds=$(awk -v m="$minutes" 'BEGIN { s = int(m * 60 + 0.5); print (s > 0 ? s : 0) }')
if [ "$seconds" -lt "$epoch" ]; then
    echo "soak: MINUTES must cover at least one epoch of $epoch s" >&2
    exit 2
fi
cd "$(dirname "$0")/.."
make -s --no-print-directory BUILD="$build" "$build/bench/bench_hakmem"
mkdir -p "$out"
echo "soak: random_mixed, ws $ws, $seconds s per policy in $epoch-s epochs (about $(((2 * seconds + 59) / 60)) min)" >&2

for policy in fast lean; do
    variant=unsync
    [ "$policy" = lean ] && variant=lean-unsync
    csv="$out/soak-$policy.csv"
    echo "epoch,seconds,ops_per_s,rss_kib" >"$csv"
    # EPOCH n ops_per_s rss_kib, one line per epoch, as it happens
    "$build/bench/bench_hakmem" soak "$variant" "$seconds" "$epoch" "$ws" 1 | while read -r tag n ops rss rest; do
        if [ "$tag" = EPOCH ]; then
            echo "$n,$((n * epoch)),$ops,$rss" >>"$csv"
            printf '\rsoak %s: epoch %d/%d, %.1f Mops/s, RSS %d KiB ' "$policy" "$n" "$((seconds / epoch))" \
                "$(awk -v o="$ops" 'BEGIN { print o / 1e6 }')" "$rss" >&2
        elif [ "$tag" = RESULT ]; then
            echo >&2
        fi
    done
    # drift and CV over the steady epochs (from the second on; the first includes the warm-up)
    awk -F, -v policy="$policy" 'NR > 1 { n++; ops[n] = $3; rss[n] = $4 }
        END {
            first = n >= 2 ? 2 : 1
            for (i = first; i <= n; i++) { s += ops[i]; ss += ops[i] * ops[i]; k++ }
            mean = s / k; var = ss / k - mean * mean; if (var < 0) var = 0
            printf "soak %s: %d epochs; RSS epoch %d %d KiB -> last %d KiB: drift %+.2f%%; throughput mean %.1f Mops/s, CV %.2f%%\n",
                policy, n, first, rss[first], rss[n], (rss[n] - rss[first]) * 100 / rss[first], mean / 1e6,
                sqrt(var) * 100 / mean
        }' "$csv"
done

if command -v gnuplot >/dev/null; then
    gnuplot <<GP
set terminal pngcairo size 1100,750 font "sans,11" noenhanced
set output "$out/soak.png"
set datafile separator ","
set grid
set xlabel "seconds"
set multiplot layout 2,1 title "hakmem soak: random_mixed on one unsynchronized arena ($epoch-s epochs)"
set ylabel "Mops/s"
set yrange [0:*]
plot "$out/soak-fast.csv" every ::1 using 2:(\$3/1e6) with linespoints title "fast", \
     "$out/soak-lean.csv" every ::1 using 2:(\$3/1e6) with linespoints title "lean"
set ylabel "RSS (KiB)"
set yrange [0:*]
plot "$out/soak-fast.csv" every ::1 using 2:4 with linespoints title "fast", \
     "$out/soak-lean.csv" every ::1 using 2:4 with linespoints title "lean"
unset multiplot
GP
    echo "soak: wrote $out/soak-fast.csv, $out/soak-lean.csv and $out/soak.png" >&2
else
    echo "soak: wrote $out/soak-fast.csv and $out/soak-lean.csv (no gnuplot: no plot)" >&2
fi
