#!/usr/bin/env bash
# Chooses the IntentRouter sample's prune fraction on validation data, never on the test split: the sample's pipeline
# (benchmarks/sample-forms/pipeline.sh: distill 40 epochs from fresh weights -> prune F with recovery -> optimize auto
# -> int8-dynamic) trained on 90% of the teacher's training data and scored on the other 10% (split.py), for each
# fraction and three seeds; then each fraction's seed-0 result timed against the teacher with `modelbuild bench`,
# alternating, PAIRS rounds. The teacher was trained on all of the training data (100% on the validation part), so
# the fractions are compared with each other, not with it; the rule (fixed before the sweep): the largest fraction
# whose mean validation accuracy is at most 0.5 points below that of 0.5, the fraction the sample used before.
# The accuracy gate is off here (--max-accuracy-drop 100): against a teacher at 100% it would stop every run.
# Then the sample's pipeline as shipped (all the training data, scored on the test split) at 0.5 and at the chosen
# fraction CHOSEN, each seed, and the two seed-0 results (the sample's seed) timed against the teacher with
# `modelbuild bench`, alternating, PAIRS rounds (default 8).
# Usage: [CHOSEN=0.875] [PAIRS=8] bash benchmarks/sample-prune/run.sh <modelbuild.dll> <work folder> ["0.5 0.625 0.75 0.875"] [seeds]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MB="dotnet $1"; W="$2"; FRACTIONS="${3:-0.5 0.625 0.75 0.875}"; SEEDS="${4:-0 1 2}"
T="$(cd "$root/../shared/teachers/synthetic-intent-transformer" && pwd)"
mkdir -p "$W"
/usr/bin/python3 "$root/benchmarks/sample-prune/split.py" "$T" "$W/data"
source "$root/benchmarks/sample-forms/pipeline.sh"
uptime
for f in $FRACTIONS; do
  for s in $SEEDS; do
    args=()
    for ((i = 0; i < ${#common[@]}; i++)); do
      case "${common[$i]}" in
        --train-data) args+=(--train-data "$W/data/fit_x.npy"); i=$((i + 1)) ;;
        --train-labels) args+=(--train-labels "$W/data/fit_y.npy"); i=$((i + 1)) ;;
        --eval-data) args+=(--eval-data "$W/data/val_x.npy"); i=$((i + 1)) ;;
        --eval-labels) args+=(--eval-labels "$W/data/val_y.npy"); i=$((i + 1)) ;;
        --prune) args+=(--prune "$f"); i=$((i + 1)) ;;
        --seed) args+=(--seed "$s"); i=$((i + 1)) ;;
        --max-accuracy-drop) args+=(--max-accuracy-drop 100); i=$((i + 1)) ;;
        *) args+=("${common[$i]}") ;;
      esac
    done
    echo "validation, prune $f seed $s: $($MB compress "$T/teacher.onnx" -o "$W/p$f-s$s.onnx" "${args[@]}" --quantize int8-dynamic --report "$W/p$f-s$s.json" | grep summary)"
  done
done
uptime
# The sample as shipped: all the training data, scored on the test split (the gate off, so that every seed is
# reported; the sample's build stops past 1 point, MB0520).
CHOSEN="${CHOSEN:-0.875}"
for f in 0.5 "$CHOSEN"; do
  for s in $SEEDS; do
    args=()
    for ((i = 0; i < ${#common[@]}; i++)); do
      case "${common[$i]}" in
        --prune) args+=(--prune "$f"); i=$((i + 1)) ;;
        --seed) args+=(--seed "$s"); i=$((i + 1)) ;;
        --max-accuracy-drop) args+=(--max-accuracy-drop 100); i=$((i + 1)) ;;
        *) args+=("${common[$i]}") ;;
      esac
    done
    echo "test, prune $f seed $s: $($MB compress "$T/teacher.onnx" -o "$W/sample-p$f-s$s.onnx" "${args[@]}" --quantize int8-dynamic --report "$W/sample-p$f-s$s.json" | grep summary)"
  done
done
uptime
for i in $(seq "${PAIRS:-8}"); do
  for f in 0.5 "$CHOSEN"; do
    echo "bench, sample at prune $f: $($MB bench "$W/sample-p$f-s0.onnx" --baseline "$T/teacher.onnx" --data "$T/test_x.npy" --runs 3000 | grep -E '^(model|baseline)' | awk '{print $2, $3}' | tr '\n' ' ')"
  done
done
uptime
