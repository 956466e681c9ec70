#!/usr/bin/env bash
# Issue 17 (b): where ONNX Runtime's int8 MatMul kernels start to beat float on this CPU at batch 1. One projection
# (MatMul + bias) of each size, float vs static int8 (QDQ) vs dynamic int8, timed side by side in one process
# (benchmarks/ModelBuild.Optimization.Benchmarks --models: interleaved, batch 1, one intra-op thread), at M tokens.
# Usage: bash benchmarks/int8-kernel-size/run.sh <work folder> [runs] [M tokens] [KxN ...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
W="$1"; RUNS="${2:-3000}"; M="${3:-9}"; shift $(( $# < 3 ? $# : 3 ))
SHAPES=("$@"); [ ${#SHAPES[@]} -gt 0 ] || SHAPES=(64x64 64x192 64x256 256x64 128x128 128x384 128x512 512x128 256x1024 768x768 768x3072)
B="$root/benchmarks/ModelBuild.Optimization.Benchmarks/bin/Release/net10.0/ModelBuild.Optimization.Benchmarks.dll"
/usr/bin/python3 "$root/benchmarks/int8-kernel-size/make_models.py" "$W" "$M" "${SHAPES[@]}"
for s in "${SHAPES[@]}"; do
  echo "## $s, M $M"
  dotnet "$B" "$RUNS" --models "$W/$s.npy" float="$W/$s-float.onnx" int8-static="$W/$s-static.onnx" int8-static-bias="$W/$s-static-bias.onnx" int8-dynamic="$W/$s-dynamic.onnx" | grep "batch  1"
done
uptime
