#!/usr/bin/env bash
# Packs ModelBuild from this repository and builds + runs samples/QuantizeWine against it: `dotnet build` compresses
# the shipped wine MLP (static int8), prints one summary line per model, and the app runs the result.
#
# The package version is 0.1.0-local.<hash of the packed sources>: the global NuGet cache keeps whatever it once
# extracted under an id/version, so a fixed version would build against a stale package after a source change.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

hash="$(find src/ModelBuild.Tasks src/ModelBuild.Cli src/ModelBuild.Compression src/ModelBuild.Onnx build \
          Directory.Build.props Directory.Build.targets Directory.Packages.props global.json \
          -type f -not -path '*/bin/*' -not -path '*/obj/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
version="0.1.0-local.${hash}"
feed="$root/artifacts/packages"

if [ ! -f "$feed/ModelBuild.${version}.nupkg" ]; then
  echo "== packing ModelBuild ${version} into artifacts/packages"
  dotnet pack src/ModelBuild.Tasks -c Release -o "$feed" "-p:Version=${version}" -nologo -v:q
fi

echo "== dotnet build samples/QuantizeWine (compresses samples/models/wine-mlp.onnx)"
dotnet build samples/QuantizeWine -c Release "-p:ModelBuildVersion=${version}" -nologo -v:n \
  | grep -E 'ModelBuild: |: stage | (error|warning) [A-Z]+[0-9]+:' || true
test -f samples/QuantizeWine/bin/Release/net10.0/models/wine.onnx

echo "== running the app on the compressed model"
dotnet samples/QuantizeWine/bin/Release/net10.0/QuantizeWine.dll
