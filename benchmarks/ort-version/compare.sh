#!/usr/bin/env bash
# ONNX Runtime A vs B, side by side in one run: benchmarks/ModelBuild.OrtVersion.Benchmarks built once per version
# (-p:OnnxRuntimeVersion=..., obj/bin folders per version under $WORK, outside the project so neither compiles the other's generated files), then the two builds run alternately (per model: A B, next round B A, ...), each
# run timing one model at batch 1 and 32 on one intra-op thread (median per call). Prints each run's medians, then per
# model and batch the median over runs for each version and the ratio B / A (below 1: B is faster). Times are the
# calling thread's CPU time per call (one intra-op thread computes on the caller), which load from other jobs on a
# shared machine disturbs far less than wall time; the wall-time medians are in $WORK/results.txt.
# The int8 models are written by this worktree's CLI (modelbuild compress --quantize int8-dynamic / int8-static --force).
# Results: benchmarks/RESULTS.md, "ONNX Runtime 1.31.1 vs 1.32.0".
#
#   bash benchmarks/ort-version/compare.sh [rounds=3] [A=1.31.1] [B=1.32.0]
set -euo pipefail
rounds="${1:-3}"; a="${2:-1.31.1}"; b="${3:-1.32.0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
project="$root/benchmarks/ModelBuild.OrtVersion.Benchmarks"
teachers="$root/../shared/teachers"
work="${WORK:-/tmp/modelbuild-ort-version}"; mkdir -p "$work"

for v in "$a" "$b"; do
  dotnet build "$project" -c Release -p:OnnxRuntimeVersion="$v" \
    -p:BaseIntermediateOutputPath="$work/obj-$v/" -p:OutputPath="$work/bin-$v/" >"$work/build-$v.log" 2>&1 \
    || { cat "$work/build-$v.log"; exit 3; }
done

cli="$root/src/ModelBuild.Cli/bin/Release/net10.0/modelbuild.dll"
[ -f "$cli" ] || dotnet build "$root/src/ModelBuild.Cli" -c Release >"$work/build-cli.log" 2>&1
sit="$teachers/synthetic-intent-transformer"
[ -f "$work/sit-int8-dynamic.onnx" ] || dotnet "$cli" compress "$sit/teacher.onnx" -o "$work/sit-int8-dynamic.onnx" \
  --quantize int8-dynamic --force >"$work/q1.log" 2>&1
[ -f "$work/sit-int8-static.onnx" ] || dotnet "$cli" compress "$sit/teacher.onnx" -o "$work/sit-int8-static.onnx" \
  --quantize int8-static --calibration-data "$sit/calib_x.npy" --force >"$work/q2.log" 2>&1

models=("$sit/teacher.onnx" "$teachers/intent-bert/teacher.onnx" "$teachers/wine-mlp/teacher.onnx"
        "$work/sit-int8-dynamic.onnx" "$work/sit-int8-static.onnx")
results="$work/results.txt"; : >"$results"
for r in $(seq 1 "$rounds"); do
  for m in "${models[@]}"; do   # A and B back to back per model, order swapped every round: load falls on both alike
    order=("$a" "$b"); [ $((r % 2)) -eq 0 ] && order=("$b" "$a")
    for v in "${order[@]}"; do
      dotnet "$work/bin-$v/ModelBuild.OrtVersion.Benchmarks.dll" --batches 1,32 --seconds "${SECONDS_PER_CELL:-1}" "$m" \
        | sed "s/^/$r /" | tee -a "$results"
    done
  done
done

# columns: round, ORT version string, model, batch, median CPU us, median wall us, runs
python3 - "$results" "$a" "$b" <<'PY'
import sys, statistics, collections
path, a, b = sys.argv[1:4]
rows = collections.defaultdict(list)
for line in open(path):
    r, version, model, batch, us, wall, runs = line.split()
    rows[(model, int(batch), version)].append(float(us))
print(f"\n| model | batch | {a} (CPU us per call) | {b} (CPU us per call) | {b} / {a}, paired by round: median (min-max) |")
print("| --- | ---: | ---: | ---: | ---: |")
by_round = collections.defaultdict(dict)
for line in open(path):
    r, version, model, batch, us, wall, runs = line.split()
    by_round[(model, int(batch))].setdefault(r, {})[version] = float(us)
for model, batch in sorted({(m, bt) for m, bt, _ in rows}, key=lambda k: (k[0], k[1])):
    ma = statistics.median(rows[(model, batch, a)]); mb = statistics.median(rows[(model, batch, b)])
    ratios = [v[b] / v[a] for v in by_round[(model, batch)].values() if a in v and b in v]
    print(f"| {model} | {batch} | {ma:,.1f} | {mb:,.1f} | {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) |")
PY
