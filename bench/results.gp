# bench/results.png from the data files bench/run.py writes: two scoreboards, one row per allocator and one
# column per workload. Called as
#   gnuplot -e "ratio='R.dat'; rss='M.dat'; out='results.png'; nw=W; na=A; xt='(\"wl\" 0, ...)'; yt='(...)'" \
#           bench/results.gp
# Data lines: column, row, colour value, cell text; a workload an allocator does not run has no line (grey cell).
# Colour value: log2 of the ratio to mimalloc's heap in the same workload and run (throughput: above 1 is
# faster; peak RSS: the inverse, so green is better in both), clamped to 1/2x..2x.
set terminal pngcairo size 1400,1200 font "sans,11" noenhanced
set output out
set multiplot layout 2,1 title "hakmem vs peers, measured in the same run (numbers and method: bench/RESULTS.md)"
set xrange [-0.5:nw - 0.5]
set yrange [na - 0.5:-0.5]
eval "set xtics " . xt . " rotate by 25 right nomirror scale 0"
eval "set ytics " . yt . " nomirror scale 0"
set object 1 rectangle from graph 0, 0 to graph 1, 1 behind fillcolor rgb "#e8e8e8" fillstyle solid noborder
set cbrange [-1:1]
set palette defined (-1 "#c0392b", -0.35 "#f5b7a8", 0 "#ffffff", 0.35 "#b7e1b0", 1 "#1e8449")
set colorbox user origin graph 1.02, 0.1 size character 2, graph 0.8
set lmargin 45
set rmargin 12
set bmargin 6
set style fill solid 1.0 border rgb "white"
cell = "using 1:2:($1 - 0.5):($1 + 0.5):($2 - 0.5):($2 + 0.5):3 with boxxyerror fc palette notitle"
text = "using 1:2:4 with labels font \",10\" notitle"

set title "Throughput relative to mimalloc's heap (median of run-pair ratios; higher is better)"
set cbtics ("0.5x" -1, "0.7x" -0.515, "1x" 0, "1.4x" 0.485, "2x" 1)
eval "plot ratio " . cell . ", ratio " . text

set title "Peak RSS in MiB (VmHWM, max over runs); colour: relative to mimalloc's heap (lower is better)"
set cbtics ("2x" -1, "1.4x" -0.485, "1x" 0, "0.7x" 0.515, "0.5x" 1)
eval "plot rss " . cell . ", rss " . text
unset multiplot
