# bench/results.png from the data files bench/run.py writes. Called as
#   gnuplot -e "ratio='R.dat'; rss='M.dat'; out='results.png'; nratio=N; nrss=M; cratio='#rgb ...'; crss='...'" \
#           bench/results.gp
# Columns: workload, then one per allocator (header = its label); "?" = the allocator does not run that workload.
# Top: throughput relative to mimalloc, a bar from 1 up (faster) or down (slower), log scale.
# Bottom: peak RSS per allocator and workload, log scale. Each allocator keeps its colour in both panels.
set terminal pngcairo size 1500,1100 font "sans,11" noenhanced
set output out
set datafile missing "?"
set key outside right top vertical Left reverse autotitle columnhead
set grid ytics
set multiplot layout 2,1 title "hakmem vs peers, measured in the same run (numbers and method: bench/RESULTS.md)"

bw = 0.8 / nratio  # bar width: a cluster of nratio bars per workload
xpos(i) = $0 + (i - 1 - (nratio + 1) / 2.0) * bw
set title "Throughput relative to mimalloc's heap (median of run-pair ratios): bars up = faster, down = slower"
set ylabel "x mimalloc (log scale)"
set logscale y
set yrange [*:*]
set ytics ("0.05" 0.05, "0.1" 0.1, "0.25" 0.25, "0.5" 0.5, "1" 1, "2" 2, "4" 4, "8" 8)
set xrange [-0.6:*]
set style fill solid 0.9 border -1
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc rgb "black" front
plot ratio using 0:(1):xtic(1) with points ps 0 notitle, \
     for [i=2:nratio+1] ratio using (xpos(i)):(column(i)):(xpos(i) - bw / 2):(xpos(i) + bw / 2): \
     (column(i) < 1 ? column(i) : 1):(column(i) < 1 ? 1 : column(i)) \
     with boxxyerror lc rgb word(cratio, i - 1) title columnheader(i), \
     for [i=2:nratio+1] ratio using (xpos(i)):(column(i) >= 1 ? column(i) * 1.06 : 1/0): \
     (sprintf("%.2f", column(i))) with labels rotate by 90 left font ",8" notitle, \
     for [i=2:nratio+1] ratio using (xpos(i)):(column(i) < 1 ? column(i) / 1.06 : 1/0): \
     (sprintf("%.2f", column(i))) with labels rotate by 90 right font ",8" notitle

unset arrow 1
set title "Peak RSS (VmHWM, max over runs; lower is better)"
set ylabel "MiB (log scale)"
set yrange [*:*]
set ytics auto
set xrange [*:*]
set style data histograms
set style histogram clustered gap 1
set boxwidth 0.9
plot for [i=2:nrss+1] rss using i:xtic(1) lc rgb word(crss, i - 1) title columnheader(i)
unset multiplot
