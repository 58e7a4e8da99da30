#!/usr/bin/env bash
# Run the shipped CPU suites end to end on this machine, then write the report.
# Tunes (or tops up) every workload to its suite's trial budget: conv-unusual alone is
# 13 x 300 trials, each workload's budget shared by its layout variants. Run it on an
# otherwise idle machine: it times everything it tunes.
#   scripts/bench_cpu.sh [RESULTS_DIR]          (default: results)
set -euo pipefail
out="${1:-results}"
started=$(date +%s)
autotune bench conv-unusual --variants --target cpu --log-dir "$out/logs" --out "$out"
for suite in gemm-odd vector-ops; do
    autotune bench "$suite" --target cpu --log-dir "$out/logs" --out "$out"
done
target_dir="$out/$(python -c "from autotune.hardware.target import resolve_target, target_key; print(target_key(resolve_target('cpu')))")"
echo "bench_cpu.sh: $(( ($(date +%s) - started) / 60 )) minutes in all" | tee "$target_dir/duration.txt"
autotune report "$target_dir"/conv-unusual.csv "$target_dir"/gemm-odd.csv \
    "$target_dir"/vector-ops.csv --out "$target_dir/report"
printf '\nWhole run (tuning, timing and peaks of all three suites): %s\n' \
    "$(cat "$target_dir/duration.txt")" >> "$target_dir/report/report.md"
