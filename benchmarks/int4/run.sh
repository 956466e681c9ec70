#!/usr/bin/env bash
# Issue 17, "4-bit where size matters": the synthetic-intent and intent-bert students (student_kd.onnx) quantized with
# --quantize int4-weight (--force: the form itself, not the latency fallback), auto, and auto --prefer size. Each run's
# quantize stage times the float student and every candidate interleaved (batch 1, one intra-op thread, --latency-runs
# each) and measures accuracy/agreement on the shared test split; the table below reads those reports, and the largest
# initializer of each written model. Usage: benchmarks/int4/run.sh [modelbuild] [out dir] [latency runs]
set -uo pipefail
MB=${1:-src/ModelBuild.Cli/bin/Release/net10.0/modelbuild}
OUT=${2:-/tmp/int4-bench}
RUNS=${3:-300}
S=${SHARED:-../shared}/teachers
HERE=$(dirname "$0")
mkdir -p "$OUT"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
for student in synthetic intent-bert; do
  if [ $student = synthetic ]; then
    T=$S/synthetic-intent-transformer; DATA=(--calibration-data "$T/calib_x.npy" --eval-data "$T/test_x.npy" --eval-labels "$T/test_y.npy")
  else
    T=$S/intent-bert; DATA=(--calibration-data "$T/calib.npz" --eval-data "$T/test.npz" --eval-labels "$T/test_y.npy")
  fi
  echo "== $student student: $(python3 "$HERE/largest-tensor.py" "$T/student_kd.onnx")"
  for mode in int4 auto auto-size; do
    case $mode in
      int4) Q=(--quantize int4-weight --force) ;;
      auto) Q=(--quantize auto) ;;
      auto-size) Q=(--quantize auto --prefer size) ;;
    esac
    O=$OUT/$student-$mode
    "$MB" compress "$T/student_kd.onnx" -o "$O.onnx" "${Q[@]}" "${DATA[@]}" --latency-runs "$RUNS" --tune-session off --report "$O.json" > "$O.log" 2>&1
    echo "-- $mode (exit $?): modelbuild compress \$T/student_kd.onnx ${Q[*]} ${DATA[*]//$T/\$T} --latency-runs $RUNS"
    python3 - "$O.json" "$T/student_kd.onnx" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[1]))
q = next(s for s in r["stages"] if s["name"] == "quantize")["details"]
fb = os.path.getsize(sys.argv[2])
print(f"   float: {fb:,} B, {q['floatLatencyMicroseconds']} us, accuracy {q['floatAccuracy']}; chosen: {q['chosen']}")
for c in q["candidates"]:
    print(f"   {c['form']:13} {c['bytes']:>9,} B  size {c['bytes']/fb:.3f}x  latency {c['latencyMicroseconds']} us ({c['latencyRatioToFloat']}x float)"
          f"  accuracy {c['accuracy']}  agreement {c['agreement']}  passed {c['passed']}")
PY
    echo "   largest tensor written: $(python3 "$HERE/largest-tensor.py" "$O.onnx")"
  done
done
