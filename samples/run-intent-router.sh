#!/usr/bin/env bash
# The README's first command. Packs ModelBuild from this repository (build/pack-local.sh), builds
# samples/IntentRouter against it (the build distills, prunes and quantizes the shipped intent transformer: see the
# <CompressModel> item in samples/IntentRouter/IntentRouter.csproj; about 1 minute on 2 cores, once) and runs the
# app: test-split accuracy, p50/p99 latency per request, and a few requests routed to API calls.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
version="$(bash build/pack-local.sh)"

echo "== dotnet build samples/IntentRouter (compresses samples/IntentRouter/Models/intent-teacher.onnx with ModelBuild ${version})"
log="$root/artifacts/intent-router-build.log"
mkdir -p "$root/artifacts"
# The whole build output goes to the log; the console shows the stages, every 10th training epoch and the summary.
set +e
dotnet build samples/IntentRouter -c Release "-p:ModelBuildVersion=${version}" -nologo -v:n 2>&1 | tee "$log" \
  | grep --line-buffered -E 'ModelBuild: |: stage |: distill: epoch (1|[0-9]*0)/|: prune: (structured|step)|: quantize: int8|(error|warning) [A-Z]+[0-9]+:'
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo "== the build failed (exit ${status}); its whole output is in ${log}" >&2
  exit "$status"
fi
test -f samples/IntentRouter/bin/Release/net10.0/models/intent.onnx

echo "== running the app on the compressed model"
dotnet samples/IntentRouter/bin/Release/net10.0/IntentRouter.dll --demo
