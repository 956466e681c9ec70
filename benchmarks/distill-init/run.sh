#!/usr/bin/env bash
# Issue 16 acceptance: a derived half-width, half-depth student (`--distill --student-width 0.5 --student-depth 0.5`)
# initialized from the teacher (the default), from fresh weights (`--reinitialize`), and trained with the layer-wise
# loss (`--loss layerwise`), on the two transformer teachers, seeds 0-2. Epochs and batch size are the PyTorch reference
# student's (reference.json: synthetic-intent-transformer 40 epochs, batch 32; intent-bert 60 epochs, batch 64; lr 1e-3
# both, the default); every other setting is ModelBuild's default, the epoch kept is chosen on the default 10%
# validation split of the training data, and the test split is only measured afterwards with `modelbuild eval`.
# Usage: benchmarks/distill-init/run.sh MODELBUILD OUT_DIR CASE MODE [SEEDS]
#   CASE: synthetic-intent-transformer | intent-bert;  MODE: defaults | reinitialize | layerwise;  SEEDS default "0 1 2".
set -uo pipefail
MB=${1:?modelbuild binary}; OUT=${2:?output dir}; CASE=${3:?case}; MODE=${4:?mode}; SEEDS=${5:-0 1 2}
T=${SHARED:-../shared}/teachers/$CASE
mkdir -p "$OUT"
case "$MODE" in
  defaults) EXTRA=() ;;
  reinitialize) EXTRA=(--reinitialize) ;;
  layerwise) EXTRA=(--loss layerwise) ;;
  *) echo "unknown mode $MODE"; exit 2 ;;
esac
if [ "$CASE" = intent-bert ]; then
  TEXT=(--text-column text --label-column intent --labels "$T/labels.json" --tokenizer "$T/vocab.txt")
  TRAIN=(--train-data "$T/train.tsv" "${TEXT[@]}" --epochs 60 --batch-size 64)
  TEST=(--data "$T/test.tsv" "${TEXT[@]}")
else
  TRAIN=(--train-data "$T/train_x.npy" --train-labels "$T/train_y.npy" --epochs 40 --batch-size 32)
  TEST=(--data "$T/test_x.npy" --labels "$T/test_y.npy")
fi
for seed in $SEEDS; do
  name="$CASE.$MODE.seed$seed"
  "$MB" compress "$T/teacher.onnx" --distill --student-width 0.5 --student-depth 0.5 "${EXTRA[@]}" "${TRAIN[@]}" \
    --seed "$seed" --report "$OUT/$name.report.json" -o "$OUT/$name.onnx" > "$OUT/$name.log" 2>&1
  rc=$?
  test=$("$MB" eval "$OUT/$name.onnx" "${TEST[@]}" --latency-runs 0 2>&1 | awk '/^accuracy/ {print $2}')
  echo "$CASE $MODE seed $seed: exit $rc, test accuracy $test | $(grep -o 'summary.*' "$OUT/$name.log" | head -1)"
done
