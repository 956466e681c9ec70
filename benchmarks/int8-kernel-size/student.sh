#!/usr/bin/env bash
# Issue 17 (b) on the d 64 student: the int8-static file as ModelBuild writes it (QAttention; o, fc1, fc2 and the
# classifier float by Int8KernelSizeRule, weights int8-stored) against float, and against the same file with fc2, then
# fc2 and o, as QuantizeLinear + MatMulIntegerToFloat with the bias folded in (fold_bias.py, timing only), side by side
# in one process, <repeats> times (--models: interleaved, batch 1, one intra-op thread). float is timed twice, first and
# last, to show this mode's noise between identical files.
# Usage: bash benchmarks/int8-kernel-size/student.sh <modelbuild.dll> <work folder> [runs] [repeats]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MB="dotnet $1"; W="$2"; RUNS="${3:-3000}"; REPEATS="${4:-3}"
B="$root/benchmarks/ModelBuild.Optimization.Benchmarks/bin/Release/net10.0/ModelBuild.Optimization.Benchmarks.dll"
S="$(cd "$root/../shared/teachers/synthetic-intent-transformer" && pwd)"
mkdir -p "$W"
$MB compress "$S/student_kd.onnx" -o "$W/float.onnx" --quantize none --eval-data "$S/test_x.npy" --eval-labels "$S/test_y.npy" --tune-session off | grep summary
$MB compress "$W/float.onnx" -o "$W/static.onnx" --optimize none --quantize int8-static --force --calibration-data "$S/calib_x.npy" \
  --eval-data "$S/test_x.npy" --eval-labels "$S/test_y.npy" --tune-session off | grep summary
/usr/bin/python3 "$root/benchmarks/int8-kernel-size/fold_bias.py" "$W/static.onnx" "$W/static-fc2.onnx" /blocks.0/fc2/MatMul
/usr/bin/python3 "$root/benchmarks/int8-kernel-size/fold_bias.py" "$W/static.onnx" "$W/static-fc2-o.onnx" /blocks.0/fc2/MatMul,/blocks.0/o/MatMul
for ((r = 1; r <= REPEATS; r++)); do
  uptime
  dotnet "$B" "$RUNS" --models "$S/test_x.npy" float="$W/float.onnx" int8-static="$W/static.onnx" \
    static+fc2-bias="$W/static-fc2.onnx" static+fc2,o-bias="$W/static-fc2-o.onnx" float-again="$W/float.onnx" | grep "batch  1"
done
uptime
