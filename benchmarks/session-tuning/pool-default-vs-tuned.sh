#!/usr/bin/env bash
# Session settings chosen per model (issue 17): what `modelbuild compress --tune-session auto` picks for each model on
# this machine, then the runtime pool with its default settings vs the recorded ones, side by side in one process:
# single-caller latency (median us per Predict) and 8-caller throughput (Predicts/s), pools alternated in rounds.
# Models: a 64-512-512-10 MLP (written by the benchmark), the synthetic-intent and intent-bert teachers.
# Results: benchmarks/RESULTS.md, "Session settings chosen per model".
#
#   bash benchmarks/session-tuning/pool-default-vs-tuned.sh [rounds=5]
set -euo pipefail
rounds="${1:-5}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
teachers="$root/../shared/teachers"
work="${WORK:-/tmp/modelbuild-session-tuning}"; mkdir -p "$work"
dotnet build "$root/src/ModelBuild.Cli" -c Release >"$work/build-cli.log" 2>&1 || { tail -20 "$work/build-cli.log"; exit 3; }
dotnet build "$root/benchmarks/ModelBuild.Runtime.Benchmarks" -c Release >"$work/build-bench.log" 2>&1 || { tail -20 "$work/build-bench.log"; exit 3; }
cli="$root/src/ModelBuild.Cli/bin/Release/net10.0/modelbuild.dll"
bench="$root/benchmarks/ModelBuild.Runtime.Benchmarks/bin/Release/net10.0/ModelBuild.Runtime.Benchmarks.dll"

dotnet "$bench" --write-mlp "$work/mlp-64-512-512-10.onnx"
# No compression (--quantize none): the result is the input model, timed and tuned; the sidecar lands beside the copy.
tune() { # $1 model, $2 output name
  dotnet "$cli" compress "$1" -o "$work/$2" --quantize none --report "$work/$2.report.json" | grep 'session:' || true
  python3 - "$work/$2.session.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"  chosen: intra-op {d['intraOpThreads']}, inter-op {d['interOpThreads']}, {d['graphOptimizationLevel']}, {d['executionMode']}"
      f" ({d['measured']['chosenMicroseconds']} us vs default {d['measured']['defaultMicroseconds']} us, {d['measured']['cpu']}, ORT {d['measured']['onnxRuntime']})")
for c in d['measured']['candidates']:
    print(f"    intra {c['intraOpThreads']} inter {c['interOpThreads']} {c['graphOptimizationLevel']:8} {c['executionMode']:10} {c['medianMicroseconds']:>10} us  x{c['ratioToDefault']}")
PY
}
tune "$work/mlp-64-512-512-10.onnx" mlp.onnx
tune "$teachers/synthetic-intent-transformer/teacher.onnx" sit.onnx
tune "$teachers/intent-bert/teacher.onnx" bert.onnx

dotnet "$bench" --session-settings mlp "$work/mlp.onnx" "$rounds"
dotnet "$bench" --session-settings ids "$work/sit.onnx" "$rounds"
dotnet "$bench" --session-settings bert "$work/bert.onnx" "$rounds"
