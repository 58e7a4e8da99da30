#!/usr/bin/env bash
# Run the shipped suites on this machine's NVIDIA GPU end to end, then write the report:
# tune (or top up) each workload to its trial budget, then time tuned and untuned TVM kernels
# against cuBLAS and CuPy (all suites) and cuDNN (convolutions) with CUDA events, and
# measure the GPU's SGEMM and memory-bandwidth ceilings in the same run.
# Needs CuPy and the cuDNN Frontend: pip install cupy-cuda13x nvidia-cudnn-frontend
#   scripts/bench_gpu.sh [RESULTS_DIR] [TRIALS]   (defaults: results, each suite's budget)
set -euo pipefail
out="${1:-results}"
trials=(${2:+--trials "$2"})
started=$(date +%s)
for suite in conv-unusual gemm-odd vector-ops; do
    autotune bench "$suite" --target cuda --log-dir "$out/logs" --out "$out" "${trials[@]}" --quiet
done
target_dir="$out/$(python -c "from autotune.hardware.target import resolve_target, target_key; print(target_key(resolve_target('cuda')))")"
echo "bench_gpu.sh: $(( ($(date +%s) - started) / 60 )) minutes in all" \
    | tee "$target_dir/duration.txt"
autotune report "$target_dir"/conv-unusual.csv "$target_dir"/gemm-odd.csv \
    "$target_dir"/vector-ops.csv --out "$target_dir/report"
printf '\nWhole run (tuning, timing and peaks of all three suites): %s\n' \
    "$(cat "$target_dir/duration.txt")" >> "$target_dir/report/report.md"
