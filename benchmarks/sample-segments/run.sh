#!/usr/bin/env bash
# Where the sample student's time goes: each prefix of its float student (segments.py) timed side by side with the
# whole model (ModelBuild.Optimization.Benchmarks --models: interleaved, batch 1, one intra-op thread), twice. The
# first model is a throw-away copy of the smallest prefix: the first student in a --models run measured slow
# (a 5-7 us offset) in every run, whichever file it was.
# Usage: bash benchmarks/sample-segments/run.sh <float.onnx from benchmarks/sample-forms/run.sh> <work folder> [runs]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
F="$1"; W="$2"; RUNS="${3:-3000}"
T="$(cd "$root/../shared/teachers/synthetic-intent-transformer" && pwd)"
B="$root/benchmarks/ModelBuild.Optimization.Benchmarks/bin/Release/net10.0/ModelBuild.Optimization.Benchmarks.dll"
/usr/bin/python3 "$root/benchmarks/sample-segments/segments.py" "$F" "$W"
uptime
for i in 1 2; do
  dotnet "$B" "$RUNS" --models "$T/test_x.npy" warm-up="$W/keep.onnx" keep="$W/keep.onnx" trim="$W/trim.onnx" ids="$W/ids.onnx" \
    emb="$W/emb.onnx" attn="$W/attn.onnx" ln2="$W/ln2.onnx" ffn="$W/ffn.onnx" lnf="$W/lnf.onnx" pool="$W/pool.onnx" full="$F" | grep "batch  1"
done
uptime
