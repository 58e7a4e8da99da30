#!/usr/bin/env bash
# The sample ONNX model end to end on this machine: tune its convs and matmul under one
# budget, build the model from the logs (checked against ONNX Runtime), then time the tuned
# build vs TVM's untuned build vs ONNX Runtime in one run. Run it on an otherwise idle machine.
#   scripts/bench_model.sh [RESULTS_DIR] [TRIALS] [TIME_BUDGET]   (default: results 1000 20m)
# TRIALS=0 reuses the logs as they are (build and compare only); VARIANTS=1 in the
# environment also tunes the convolutions' layout variants.
set -euo pipefail
out="${1:-results}"
trials="${2:-1000}"
budget="${3:-20m}"
key=$(python -c "from autotune.hardware.target import resolve_target, target_key; print(target_key(resolve_target('cpu')))")
dir="$out/$key/models"
mkdir -p "$dir"
model="$dir/sample-small.onnx"
python -c "from autotune.model.sample import sample_model; sample_model('$model', 'small')"
started=$(date +%s)
if [ "$trials" -gt 0 ]; then
    autotune model tune "$model" --trials "$trials" --time-budget "$budget" \
        --log-dir "$out/logs" --quiet ${VARIANTS:+--variants} | tee -a "$dir/sample-small-tune.txt"
fi
tuned=$(date +%s)
autotune model build "$model" --log-dir "$out/logs" --out "build/sample-small"
{
    echo "command: ${VARIANTS:+VARIANTS=1 }scripts/bench_model.sh $*"
    echo "tuning: $(( (tuned - started) / 60 )) minutes (--trials $trials --time-budget $budget)"
    autotune model compare "$model" --package "build/sample-small" --out "$dir/sample-small.csv"
} | tee "$dir/sample-small.txt"
