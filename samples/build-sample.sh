#!/usr/bin/env bash
# Packs ModelBuild from this repository (build/pack-local.sh) and builds + runs samples/QuantizeWine against it:
# `dotnet build` compresses the shipped wine MLP (static int8), prints one summary line per model, and the app runs
# the result with ONNX Runtime.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
version="$(bash build/pack-local.sh)"

echo "== dotnet build samples/QuantizeWine (compresses samples/models/wine-mlp.onnx with ModelBuild ${version})"
dotnet build samples/QuantizeWine -c Release "-p:ModelBuildVersion=${version}" -nologo -v:n \
  | grep -E 'ModelBuild: |: stage | (error|warning) [A-Z]+[0-9]+:' || true
test -f samples/QuantizeWine/bin/Release/net10.0/models/wine.onnx

echo "== running the app on the compressed model"
dotnet samples/QuantizeWine/bin/Release/net10.0/QuantizeWine.dll
