#!/usr/bin/env bash
# Packs ModelBuild (the build package) and ModelBuild.Runtime from this repository into artifacts/packages (unless
# already there) and prints their version, so an app outside the repository can reference both from that folder.
# The version is 0.1.0-local.<hash of the packed sources>: the global NuGet cache keeps whatever it once extracted
# under an id/version, so a fixed version would build against a stale package after a source change.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
hash="$(find src/ModelBuild.Tasks src/ModelBuild.Cli src/ModelBuild.Compression src/ModelBuild.Onnx src/ModelBuild.Runtime build \
          Directory.Build.props Directory.Build.targets Directory.Packages.props global.json \
          -type f -not -path '*/bin/*' -not -path '*/obj/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
version="0.1.0-local.${hash}"
feed="$root/artifacts/packages"
if [ ! -f "$feed/ModelBuild.${version}.nupkg" ]; then
  echo "== packing ModelBuild ${version} into artifacts/packages" >&2
  dotnet pack src/ModelBuild.Tasks -c Release -o "$feed" "-p:Version=${version}" -nologo -v:q >&2
fi
if [ ! -f "$feed/ModelBuild.Runtime.${version}.nupkg" ]; then
  echo "== packing ModelBuild.Runtime ${version} into artifacts/packages" >&2
  dotnet pack src/ModelBuild.Runtime -c Release -o "$feed" "-p:Version=${version}" -nologo -v:q >&2
fi
echo "$version"
