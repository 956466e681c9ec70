#!/usr/bin/env bash
# Regularization sweep on validation folds of the TRAINING split only (the test split is never read): the stated
# student (`--student student_scratch.onnx --reinitialize`) distilled with the reference epochs and batch size
# (run.sh's MODE scratch) on K-1 folds of train_x/train_y, and its accuracy measured with `modelbuild eval` on the
# held-out fold. Each CONFIG is one quoted string of extra options ("" = the defaults); the fold's seed is the fold
# index. Prints one line per run, then the mean held-out accuracy over the folds per config.
# SWEEP_STUDENT replaces the stated student's options (e.g. a derived one), SWEEP_EPOCHS the reference epochs.
# Usage: benchmarks/distill-init/sweep.sh MODELBUILD OUT_DIR CASE K "FOLDS" CONFIG...
#   e.g. sweep.sh modelbuild /tmp/s wine-mlp 4 "0 1 2 3" "" "--dropout 0.1" "--weight-decay 0"
set -uo pipefail
MB=${1:?modelbuild binary}; OUT=${2:?output dir}; CASE=${3:?case}; K=${4:?folds}; FOLDS=${5:?fold indices}; shift 5
T=${SHARED:-../shared}/teachers/$CASE
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$OUT"
[ -f "$OUT/folds/fold0_val_y.npy" ] || python3 "$HERE/folds.py" "$CASE" "$K" "$OUT/folds" "${SHARED:-../shared}" > /dev/null
case "$CASE" in wine-mlp) EPOCHS=200 ;; breast-cancer-mlp) EPOCHS=100 ;; *) EPOCHS=40 ;; esac
EPOCHS=${SWEEP_EPOCHS:-$EPOCHS}  # e.g. SWEEP_EPOCHS=1000: the same rows trained for longer
# e.g. SWEEP_STUDENT="--student-width 0.5 --reinitialize": a derived student instead of the stated one
read -r -a STUDENT <<< "${SWEEP_STUDENT:---student $T/student_scratch.onnx --reinitialize}"
for config in "$@"; do
  read -r -a extra <<< "$config"
  tag=$(echo "${config:-defaults}" | tr -c 'A-Za-z0-9.\n-' '_')
  sum=0; n=0
  for f in $FOLDS; do
    name="$CASE.$tag.fold$f"
    "$MB" compress "$T/teacher.onnx" --distill "${STUDENT[@]}" \
      --train-data "$OUT/folds/fold${f}_train_x.npy" --train-labels "$OUT/folds/fold${f}_train_y.npy" \
      --epochs $EPOCHS --batch-size 32 "${extra[@]}" --seed "$f" --threads 1 -o "$OUT/$name.onnx" > "$OUT/$name.log" 2>&1
    acc=$("$MB" eval "$OUT/$name.onnx" --data "$OUT/folds/fold${f}_val_x.npy" --labels "$OUT/folds/fold${f}_val_y.npy" --latency-runs 0 2>&1 | awk '/^accuracy/ {print $2}')
    echo "$CASE [${config:-defaults}] fold $f: held-out accuracy $acc, load $(cut -d' ' -f1-3 /proc/loadavg)"
    sum=$(awk -v s="$sum" -v a="${acc%\%}" 'BEGIN {print s + a}'); n=$((n + 1))
  done
  echo "$CASE [${config:-defaults}] mean over $n folds: $(awk -v s="$sum" -v n="$n" 'BEGIN {printf "%.2f%%", s / n}')"
done
