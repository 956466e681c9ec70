#!/usr/bin/env bash
# Issue 16 acceptance: a derived half-width, half-depth student (`--distill --student-width 0.5 --student-depth 0.5`)
# initialized from the teacher (the default), from fresh weights (`--reinitialize`), and trained with the layer-wise
# loss (`--loss layerwise`), on the two transformer teachers, seeds 0-2. Epochs and batch size are the PyTorch reference
# student's (reference.json: synthetic-intent-transformer 40 epochs, batch 32; intent-bert 60 epochs, batch 64; lr 1e-3
# both, the default); every other setting is ModelBuild's default, the epoch kept is chosen on the default 10%
# validation split of the training data, and the test split is only measured afterwards with `modelbuild eval`.
# MODE scratch: the stated student `--student student_scratch.onnx --reinitialize` instead of the derived one, with
# the same reference epochs and batch size (wine-mlp 200 epochs, breast-cancer-mlp 100, batch 32 both).
# Usage: benchmarks/distill-init/run.sh MODELBUILD OUT_DIR CASE MODE [SEEDS]
#   CASE: synthetic-intent-transformer | intent-bert | wine-mlp | breast-cancer-mlp (the MLPs: MODE scratch only);
#   MODE: defaults | reinitialize | layerwise | scratch;  SEEDS default "0 1 2".
# Environment: EXTRA_OPTIONS="--augment 0" adds options to every compress (for a sweep against a default);
#   SPLIT=val measures intent-bert on val.tsv instead of test.tsv (a choice made before the test split is read).
set -uo pipefail
MB=${1:?modelbuild binary}; OUT=${2:?output dir}; CASE=${3:?case}; MODE=${4:?mode}; SEEDS=${5:-0 1 2}
T=${SHARED:-../shared}/teachers/$CASE
mkdir -p "$OUT"
STUDENT=(--student-width 0.5 --student-depth 0.5)
EXTRA=()
[ "${SPLIT:-test}" = test ] || [ "$CASE" = intent-bert ] || { echo "SPLIT=${SPLIT} only for intent-bert (the others have no such split)"; exit 2; }
read -r -a OPTIONS <<< "${EXTRA_OPTIONS:-}"
case "$MODE" in
  defaults) EXTRA=() ;;
  reinitialize) EXTRA=(--reinitialize) ;;
  layerwise) EXTRA=(--loss layerwise) ;;
  scratch) STUDENT=(--student "$T/student_scratch.onnx" --reinitialize) ;;
  *) echo "unknown mode $MODE"; exit 2 ;;
esac
if [ "$CASE" = intent-bert ]; then
  TEXT=(--text-column text --label-column intent --labels "$T/labels.json" --tokenizer "$T/vocab.txt")
  TRAIN=(--train-data "$T/train.tsv" "${TEXT[@]}" --epochs 60 --batch-size 64)
  TEST=(--data "$T/${SPLIT:-test}.tsv" "${TEXT[@]}")
else
  case "$CASE" in wine-mlp) EPOCHS=200 ;; breast-cancer-mlp) EPOCHS=100 ;; *) EPOCHS=40 ;; esac
  TRAIN=(--train-data "$T/train_x.npy" --train-labels "$T/train_y.npy" --epochs $EPOCHS --batch-size 32)
  TEST=(--data "$T/test_x.npy" --labels "$T/test_y.npy")
fi
for seed in $SEEDS; do
  name="$CASE.$MODE.seed$seed"
  start=$(date +%s)
  "$MB" compress "$T/teacher.onnx" --distill "${STUDENT[@]}" "${EXTRA[@]}" "${TRAIN[@]}" "${OPTIONS[@]}" \
    --seed "$seed" --threads 1 --report "$OUT/$name.report.json" -o "$OUT/$name.onnx" > "$OUT/$name.log" 2>&1
  rc=$?
  test=$("$MB" eval "$OUT/$name.onnx" "${TEST[@]}" --latency-runs 0 2>&1 | awk '/^accuracy/ {print $2}')
  echo "$CASE $MODE seed $seed: exit $rc, wall $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg), ${SPLIT:-test} accuracy $test | $(grep -o 'summary.*' "$OUT/$name.log" | head -1)"
done
