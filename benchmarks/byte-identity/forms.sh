#!/usr/bin/env bash
# Compresses the shared teachers with each technique and prints one "sha256  case" line per output,
# so a refactoring can be checked for byte-identical results:
#   bash benchmarks/byte-identity/forms.sh OUT_DIR > before.txt   (on the old commit)
#   bash benchmarks/byte-identity/forms.sh OUT_DIR > after.txt && diff before.txt after.txt
# Uses the Release build of src/ModelBuild.Cli (build it first). Latency is not measured (--latency-runs 0):
# only the model bytes are compared, the reports carry timings.
set -u
here="$(cd "$(dirname "$0")/../.." && pwd)"
cli="$here/src/ModelBuild.Cli/bin/Release/net10.0/modelbuild"
teachers="$here/../shared/teachers"
out="${1:?usage: run.sh OUT_DIR}"
mkdir -p "$out"
run() { # name, teacher folder, options...
  local name="$1" t="$teachers/$2"; shift 2
  "$cli" compress "$t/teacher.onnx" -o "$out/$name.onnx" --latency-runs 0 --seed 1 "$@" > "$out/$name.log" 2>&1
  local rc=$?
  if [ -f "$out/$name.onnx" ]; then echo "$(sha256sum < "$out/$name.onnx" | cut -c1-64)  $name (exit $rc)"
  else echo "no-output  $name (exit $rc)"; fi
}
for t in wine-mlp breast-cancer-mlp synthetic-intent-transformer; do
  d="$teachers/$t"
  run "$t.int8-dynamic" "$t" --quantize int8-dynamic
  run "$t.int8-static" "$t" --quantize int8-static --calibration-data "$d/calib_x.npy"
  run "$t.fp16" "$t" --quantize fp16
  run "$t.int4-weight" "$t" --quantize int4-weight
  run "$t.int8-weights" "$t" --quantize int8-weights
  run "$t.distill" "$t" --distill --student "$d/student_scratch.onnx" --epochs 2 --train-data "$d/train_x.npy" --train-labels "$d/train_y.npy" --eval-data "$d/test_x.npy" --eval-labels "$d/test_y.npy"
  run "$t.prune" "$t" --prune 0.5 --epochs 1 --train-data "$d/train_x.npy" --train-labels "$d/train_y.npy" --eval-data "$d/test_x.npy" --eval-labels "$d/test_y.npy"
done
# A multi-input model with npz:name data (the data-input part of the content key).
b="$teachers/intent-bert"
run "intent-bert.int8-static" intent-bert --quantize int8-static --calibration-data "$b/calib.npz" --eval-data "$b/test.npz" --eval-labels "$b/test_y.npy"
