#!/usr/bin/env bash
# The IntentRouter sample's pipeline (the settings of benchmarks/sample-forms/run.sh) written by two builds of the
# CLI, the float student (--quantize none) and the sample's result (int8-dynamic, which the latency gate turns into
# int8-weights), and each rewrite applied alone to the earlier build's float student (variants.py, needs python3-onnx),
# (or those of the script given as the fifth argument, e.g. mask-variants.py), then timed side by side in one process (ModelBuild.Optimization.Benchmarks --models: interleaved, batch 1, one
# intra-op thread, twice; the first model is a throw-away warm-up, since the first student measured 5-8 us slow
# whichever file it was, and so did a student timed right after the teacher), then `modelbuild bench` of the "after"
# build (one instrument for both) on each build's sample against the teacher, three times each, alternating. Both
# builds share one stage cache, so distill and prune run once when their keys agree.
# Usage: bash benchmarks/sample-rewrites/run.sh <modelbuild.dll after> <modelbuild.dll before> <work folder> [runs] [variants script]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
AFTER="$1"; BEFORE="$2"; W="$3"; RUNS="${4:-2000}"; VARIANTS="${5:-variants.py}"
T="$(cd "$root/../shared/teachers/synthetic-intent-transformer" && pwd)"
B="$root/benchmarks/ModelBuild.Optimization.Benchmarks/bin/Release/net10.0/ModelBuild.Optimization.Benchmarks.dll"
mkdir -p "$W"
source "$root/benchmarks/sample-forms/pipeline.sh"
uptime
for side in before after; do
  dll="$AFTER"; [ "$side" = before ] && dll="$BEFORE"
  dotnet "$dll" compress "$T/teacher.onnx" -o "$W/float-$side.onnx" "${common[@]}" --quantize none --report "$W/float-$side.json" | grep -E 'optimize:|summary|MB0'
  dotnet "$dll" compress "$T/teacher.onnx" -o "$W/sample-$side.onnx" "${common[@]}" --quantize int8-dynamic --report "$W/sample-$side.json" | grep -E 'summary|MB0'
done
rm -rf "$W/variants"
/usr/bin/python3 "$root/benchmarks/sample-rewrites/$VARIANTS" "$W/float-before.onnx" "$W/variants"
# Each variant file the script wrote, labelled by its name (alphabetical order).
variants=()
for f in "$W"/variants/*.onnx; do variants+=("$(basename "$f" .onnx)=$f"); done
uptime
for i in 1 2; do
  dotnet "$B" "$RUNS" --models "$T/test_x.npy" warm-up="$W/float-after.onnx" float-before="$W/float-before.onnx" "${variants[@]}" \
    float-after="$W/float-after.onnx" sample-before="$W/sample-before.onnx" sample-after="$W/sample-after.onnx" teacher="$T/teacher.onnx" | grep "batch  1"
done
uptime
# One instrument for both files: the "after" build's bench (its timing is the call an app makes, an OrtIoBinding).
for i in $(seq "${PAIRS:-3}"); do
  for side in before after; do
    echo "$side: $(dotnet "$AFTER" bench "$W/sample-$side.onnx" --baseline "$T/teacher.onnx" --data "$T/test_x.npy" --runs 3000 | grep -E '^(model|baseline)' | awk '{print $2, $3}' | tr '\n' ' ')"
  done
done
uptime
