#!/usr/bin/env bash
# The IntentRouter sample's pipeline (samples/IntentRouter/IntentRouter.csproj: distill 40 epochs from fresh weights,
# validation split 0 -> prune 0.875 with recovery -> optimize auto -> int8-dynamic, max drop 1.0, seed 0) as CLI
# commands, then every quantized form of its pruned student, then the teacher, the float student and each form timed
# side by side in one process (benchmarks/ModelBuild.Optimization.Benchmarks --models: interleaved, batch 1, one
# intra-op thread, plus ONNX Runtime's profile per operator type), then `modelbuild bench` of the sample's result
# against the teacher three times.
# Usage: bash benchmarks/sample-forms/run.sh <modelbuild.dll> <work folder> [runs]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MB="dotnet $1"; W="$2"; RUNS="${3:-300}"
T="$(cd "$root/../shared/teachers/synthetic-intent-transformer" && pwd)"
B="$root/benchmarks/ModelBuild.Optimization.Benchmarks/bin/Release/net10.0/ModelBuild.Optimization.Benchmarks.dll"
mkdir -p "$W"
source "$root/benchmarks/sample-forms/pipeline.sh"
uptime
# The sample as shipped (int8-dynamic), with auto, and without quantization (the float student after optimize auto:
# the quantize stage's input); distill, prune and optimize are cached after the first.
$MB compress "$T/teacher.onnx" -o "$W/sample.onnx" "${common[@]}" --quantize int8-dynamic --report "$W/sample.json" | grep -E 'stage\]|summary|MB0'
$MB compress "$T/teacher.onnx" -o "$W/sample-auto.onnx" "${common[@]}" --quantize auto --calibration-data "$T/calib_x.npy" --report "$W/sample-auto.json" | grep -E 'stage\]|summary|MB0'
$MB compress "$T/teacher.onnx" -o "$W/float.onnx" "${common[@]}" --quantize none --report "$W/float.json" | grep -E 'stage\]|summary|MB0'
# Each form of that float student (--force: written even when slower than float).
for f in int8-static int8-dynamic int8-weights; do
  $MB compress "$W/float.onnx" -o "$W/$f.onnx" --optimize none --quantize "$f" --force --calibration-data "$T/calib_x.npy" \
    --eval-data "$T/test_x.npy" --eval-labels "$T/test_y.npy" --tune-session off | grep summary
done
uptime
dotnet "$B" "$RUNS" --models "$T/test_x.npy" teacher="$T/teacher.onnx" float="$W/float.onnx" \
  int8-static="$W/int8-static.onnx" int8-dynamic="$W/int8-dynamic.onnx" int8-weights="$W/int8-weights.onnx" sample="$W/sample.onnx" sample-auto="$W/sample-auto.onnx"
uptime
for i in 1 2 3; do $MB bench "$W/sample.onnx" --baseline "$T/teacher.onnx" --data "$T/test_x.npy" --runs 3000; done
uptime
