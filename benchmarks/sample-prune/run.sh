#!/usr/bin/env bash
# The IntentRouter sample's prune fraction, looked at on validation data before the test split: the sample's pipeline
# (benchmarks/sample-forms/pipeline.sh: distill 40 epochs from fresh weights -> prune F with recovery -> optimize auto
# -> int8-dynamic) trained on 90% of the teacher's training data and scored on the other 10% (split.py), for each
# fraction and seed. The teacher was trained on all of the training data (100% on the validation part), so the
# fractions are compared with each other, not with it; the rule: the largest fraction whose mean validation accuracy
# is at most 0.5 points below that of 0.5, the fraction the sample used before (printed at the end of that part).
# The accuracy gate is off in both parts (--max-accuracy-drop 100), so that every seed is reported.
# Then the sample's pipeline as shipped (all the training data, scored on the test split) at 0.5 and at CHOSEN (the
# fraction the sample ships), each seed, and the two seed-0 results (the sample's seed) timed against the teacher with
# `modelbuild bench`, alternating, PAIRS rounds.
# Usage: [CHOSEN=0.875] [PAIRS=8] bash benchmarks/sample-prune/run.sh <modelbuild.dll> <work folder> ["0.5 0.625 0.75 0.875"] ["0 1 2"]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLI="$1"; W="$2"; FRACTIONS="${3:-0.5 0.625 0.75 0.875}"; SEEDS="${4:-0 1 2}"; CHOSEN="${CHOSEN:-0.875}"
T="$(cd "$root/../shared/teachers/synthetic-intent-transformer" && pwd)"
mkdir -p "$W"
/usr/bin/python3 "$root/benchmarks/sample-prune/split.py" "$T" "$W/data"
source "$root/benchmarks/sample-forms/pipeline.sh"

# compress <out> <fraction> <seed> <validation|test>: the sample's options with those three changed; prints the summary.
compress() {
  local out="$1" f="$2" s="$3" part="$4" args=()
  local -A value=([--prune]="$f" [--seed]="$s" [--max-accuracy-drop]=100)
  [ "$part" = validation ] && value+=([--train-data]="$W/data/fit_x.npy" [--train-labels]="$W/data/fit_y.npy"
    [--eval-data]="$W/data/val_x.npy" [--eval-labels]="$W/data/val_y.npy")
  for ((i = 0; i < ${#common[@]}; i++)); do
    if [ -n "${value[${common[$i]}]+set}" ]; then args+=("${common[$i]}" "${value[${common[$i]}]}"); i=$((i + 1)); else args+=("${common[$i]}"); fi
  done
  local log; log="$(dotnet "$CLI" compress "$T/teacher.onnx" -o "$out" "${args[@]}" --quantize int8-dynamic --report "${out%.onnx}.json" 2>&1)" \
    || { echo "FAILED: $out" >&2; echo "$log" >&2; exit 1; }
  grep summary <<<"$log"
}

uptime
declare -A mean
for f in $FRACTIONS; do
  sum=0; n=0
  for s in $SEEDS; do
    line="$(compress "$W/p$f-s$s.onnx" "$f" "$s" validation)"
    echo "validation, prune $f seed $s: $line"
    a="$(sed -E 's/.*accuracy [0-9.]+% -> ([0-9.]+)%.*/\1/' <<<"$line")"
    sum="$(awk -v x="$sum" -v y="$a" 'BEGIN { print x + y }')"; n=$((n + 1))
  done
  mean[$f]="$(awk -v x="$sum" -v n="$n" 'BEGIN { printf "%.2f", x / n }')"
  echo "validation, prune $f: mean ${mean[$f]}%"
done
if [ -n "${mean[0.5]:-}" ]; then
  pick=""
  for f in $FRACTIONS; do awk -v a="${mean[$f]}" -v b="${mean[0.5]}" 'BEGIN { exit !(a >= b - 0.5) }' && pick="$f"; done
  echo "validation rule picks prune $pick (the sample ships CHOSEN=$CHOSEN)"
fi
uptime
fractions=(0.5); [ "$CHOSEN" != 0.5 ] && fractions+=("$CHOSEN")
for f in "${fractions[@]}"; do
  for s in $SEEDS; do
    echo "test, prune $f seed $s: $(compress "$W/sample-p$f-s$s.onnx" "$f" "$s" test)"
  done
done
uptime
for i in $(seq "${PAIRS:-8}"); do
  for f in "${fractions[@]}"; do
    echo "bench, sample at prune $f: $(dotnet "$CLI" bench "$W/sample-p$f-s0.onnx" --baseline "$T/teacher.onnx" --data "$T/test_x.npy" --runs 3000 | grep -E '^(model|baseline)' | awk '{print $2, $3}' | tr '\n' ' ')"
  done
done
uptime
