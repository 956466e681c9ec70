#!/usr/bin/env bash
# Issue 17 (b): int8-static by rule (Quantization/Int8KernelSizeRule.cs: embedding Gathers and MatMul/Gemm under 128x128
# weights stay float, weights int8-stored) against float, against int8-static by per-node timing (--int8-node-timing on,
# Quantization/MeasuredExclusion.cs) and, given a second CLI built from the tree before the rule, against int8-static as
# it was. For each transformer: the float graph after `--optimize auto` (the quantize stage's input), then each int8
# file (--force: written even when slower), then all timed side by side in one process, <repeats> times
# (benchmarks/ModelBuild.Optimization.Benchmarks --models: interleaved, batch 1, one intra-op thread).
# Usage: bash benchmarks/static-int8-rule/run.sh <modelbuild.dll> <work folder> [runs] [repeats] [modelbuild.dll before the rule]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MB="dotnet $1"; W="$2"; RUNS="${3:-1000}"; REPEATS="${4:-2}"; BEFORE="${5:-}"
B="$root/benchmarks/ModelBuild.Optimization.Benchmarks/bin/Release/net10.0/ModelBuild.Optimization.Benchmarks.dll"
S="$(cd "$root/../shared/teachers/synthetic-intent-transformer" && pwd)"; I="$(cd "$root/../shared/teachers/intent-bert" && pwd)"
mkdir -p "$W"
T="$(cd "$root/../shared/teachers" && pwd)"
cases=("student_kd|$S/student_kd.onnx|$S/calib_x.npy|$S/test_x.npy|$S/test_y.npy"
       "teacher|$S/teacher.onnx|$S/calib_x.npy|$S/test_x.npy|$S/test_y.npy"
       "intent-bert|$I/teacher.onnx|$I/calib.npz|$I/test.npz|$I/test_y.npy"
       "wine-mlp|$T/wine-mlp/teacher.onnx|$T/wine-mlp/calib_x.npy|$T/wine-mlp/test_x.npy|$T/wine-mlp/test_y.npy"
       "breast-cancer-mlp|$T/breast-cancer-mlp/teacher.onnx|$T/breast-cancer-mlp/calib_x.npy|$T/breast-cancer-mlp/test_x.npy|$T/breast-cancer-mlp/test_y.npy")
# CASES: which of them (default the three transformers of the issue; the MLPs' first and last Gemm fall under the rule too).
CASES="${CASES:-student_kd teacher intent-bert}"
for c in "${cases[@]}"; do
  IFS='|' read -r name model calib x y <<< "$c"
  [[ " $CASES " == *" $name "* ]] || continue
  q=(--optimize none --quantize int8-static --force --calibration-data "$calib" --eval-data "$x" --eval-labels "$y" --tune-session off)
  $MB compress "$model" -o "$W/$name-float.onnx" --quantize none --eval-data "$x" --eval-labels "$y" --tune-session off | grep summary
  files=(float="$W/$name-float.onnx")
  if [ -n "$BEFORE" ]; then
    # --latency-runs 50: below MeasuredExclusion.MinimumRuns, as the default path was before the rule.
    dotnet "$BEFORE" compress "$W/$name-float.onnx" -o "$W/$name-before.onnx" "${q[@]}" --latency-runs 50 | grep summary
    files+=(int8-static-before="$W/$name-before.onnx")
  fi
  $MB compress "$W/$name-float.onnx" -o "$W/$name-rule.onnx" "${q[@]}" --report "$W/$name-rule.json" | grep summary
  $MB compress "$W/$name-float.onnx" -o "$W/$name-measured.onnx" "${q[@]}" --int8-node-timing on | grep -E "measured|summary"
  files+=(int8-static-rule="$W/$name-rule.onnx" int8-static-measured="$W/$name-measured.onnx")
  for ((r = 1; r <= REPEATS; r++)); do
    uptime
    dotnet "$B" "$RUNS" --models "$x" "${files[@]}" | grep -E "batch|^runs"
  done
done
uptime
