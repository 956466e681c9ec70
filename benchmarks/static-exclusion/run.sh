#!/usr/bin/env bash
# Issue 17 (b): static int8 against float on the three transformers, with and without the per-node exclusion by
# measurement (MeasuredExclusion). For each graph: the float graph after `--optimize auto` (the quantize stage's input),
# int8-static as before (--latency-runs 50: below MeasuredExclusion.MinimumRuns, so no exclusion) and int8-static with
# the exclusion (default 1000 runs), both --force so that they are written even when slower; then the three files
# timed side by side in one process (benchmarks/ModelBuild.Optimization.Benchmarks --models: interleaved, batch 1,
# one intra-op thread, plus ONNX Runtime's profile per operator type).
# Usage: bash benchmarks/static-exclusion/run.sh <modelbuild.dll> <work folder> [runs]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MB="dotnet $1"; W="$2"; RUNS="${3:-1000}"
B="$root/benchmarks/ModelBuild.Optimization.Benchmarks/bin/Release/net10.0/ModelBuild.Optimization.Benchmarks.dll"
S="$(cd "$root/../shared/teachers/synthetic-intent-transformer" && pwd)"; I="$(cd "$root/../shared/teachers/intent-bert" && pwd)"
mkdir -p "$W"
cases=("student_kd|$S/student_kd.onnx|$S/calib_x.npy|$S/test_x.npy|$S/test_y.npy"
       "teacher|$S/teacher.onnx|$S/calib_x.npy|$S/test_x.npy|$S/test_y.npy"
       "intent-bert|$I/teacher.onnx|$I/calib.npz|$I/test.npz|$I/test_y.npy")
for c in "${cases[@]}"; do
  IFS='|' read -r name model calib x y <<< "$c"
  uptime
  $MB compress "$model" -o "$W/$name-float.onnx" --quantize none --eval-data "$x" --eval-labels "$y" --tune-session off | grep summary
  $MB compress "$W/$name-float.onnx" -o "$W/$name-static.onnx" --optimize none --quantize int8-static --force --latency-runs 50 \
    --calibration-data "$calib" --eval-data "$x" --eval-labels "$y" --tune-session off | grep summary
  $MB compress "$W/$name-float.onnx" -o "$W/$name-measured.onnx" --optimize none --quantize int8-static --int8-node-timing on --force \
    --calibration-data "$calib" --eval-data "$x" --eval-labels "$y" --tune-session off --report "$W/$name-measured.json" | grep -E "measured|summary"
  dotnet "$B" "$RUNS" --models "$x" float="$W/$name-float.onnx" int8-static="$W/$name-static.onnx" int8-static-measured="$W/$name-measured.onnx"
done
uptime
