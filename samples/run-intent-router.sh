#!/usr/bin/env bash
# The README's first command. Packs ModelBuild from this repository (build/pack-local.sh), builds
# samples/IntentRouter against it (the build compresses the shipped intent transformer: see the <CompressModel> item in
# samples/IntentRouter/IntentRouter.csproj) and runs the app: test-split accuracy, p50/p99 latency per request, and
# a few requests routed to API calls.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
version="$(bash build/pack-local.sh)"

echo "== dotnet build samples/IntentRouter (compresses samples/IntentRouter/Models/intent-teacher.onnx with ModelBuild ${version})"
dotnet build samples/IntentRouter -c Release "-p:ModelBuildVersion=${version}" -nologo -v:n \
  | grep -E 'ModelBuild: |: stage | (error|warning) [A-Z]+[0-9]+:|Build succeeded|Time Elapsed' || true
test -f samples/IntentRouter/bin/Release/net10.0/models/intent.onnx

echo "== running the app on the compressed model"
dotnet samples/IntentRouter/bin/Release/net10.0/IntentRouter.dll --demo
