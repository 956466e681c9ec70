#!/usr/bin/env bash
# No-op incremental build cost of ModelBuild: the same console app with and without three <CompressModel> items
# (wine MLP: int8-static, int8-dynamic, fp16), each built once to warm up, then `dotnet build --no-restore` timed
# N times in alternation (A B A B ...), with the default developer settings (MSBuild node reuse, compiler server).
# Prints each run, the medians and the median of the per-pair ratios. Results: benchmarks/RESULTS.md, "MSBuild".
#
#   bash benchmarks/msbuild/noop-build.sh [pairs=15]
set -euo pipefail
pairs="${1:-15}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
version="$(bash "$root/build/pack-local.sh")"
work="$(mktemp -d /tmp/modelbuild-noop-XXXXXX)"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT; echo "work: $work" >&2
teacher="$root/../shared/teachers/wine-mlp"

make_project() { # $1 folder, $2 items
  mkdir -p "$1"
  cp "$teacher/teacher.onnx" "$teacher/calib_x.npy" "$1/"
  cat > "$1/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration><packageSources><clear />
  <add key="modelbuild-local" value="$root/artifacts/packages" />
  <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
</packageSources></configuration>
XML
  echo 'System.Console.WriteLine("hello");' > "$1/Program.cs"
  cat > "$1/App.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework></PropertyGroup>
  <ItemGroup>
    <PackageReference Include="ModelBuild" Version="$version" />
    $2
  </ItemGroup>
</Project>
XML
}

make_project "$work/with" '
    <CompressModel Include="teacher.onnx" OutputName="models/static.onnx" Quantize="int8-static" CalibrationData="calib_x.npy" />
    <CompressModel Include="teacher.onnx" OutputName="models/dynamic.onnx" Quantize="int8-dynamic" />
    <CompressModel Include="teacher.onnx" OutputName="models/fp16.onnx" Quantize="fp16" />'
# The same package reference without items: the difference is what the items cost, not the import of the package.
make_project "$work/without" ''

for p in with without; do
  (cd "$work/$p" && dotnet build -nologo -v:q > "$work/$p.first.log" 2>&1) || { cat "$work/$p.first.log"; exit 1; }
  (cd "$work/$p" && dotnet build --no-restore -nologo -v:q > /dev/null 2>&1) # second build: the first no-op, not counted
done
test -f "$work/with/bin/Debug/net10.0/models/static.onnx"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
time_build() { local start; start=$(now_ms); (cd "$work/$1" && dotnet build --no-restore -nologo -v:q > /dev/null 2>&1); echo $(( $(now_ms) - start )); }

with=(); without=(); ratios=()
for i in $(seq 1 "$pairs"); do
  a=$(time_build with); b=$(time_build without)
  with+=("$a"); without+=("$b"); ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f", a / b }')")
  echo "pair $i: with 3 items ${a} ms, without ${b} ms"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "median no-op build, 3 <CompressModel> items: $(median "${with[@]}") ms"
echo "median no-op build, no items:                $(median "${without[@]}") ms"
echo "median ratio with/without (per pair):        $(median "${ratios[@]}")"

# Inside the build, immune to other processes on the machine: the time MSBuild attributes to ModelBuild's targets
# (CompressModels, _ModelBuildPrepare, _ModelBuildCompress) in a no-op build, against the whole build's time.
own=(); total=()
for i in 1 2 3 4 5; do
  summary="$(cd "$work/with" && dotnet build --no-restore -nologo -v:q -clp:PerformanceSummary 2>&1)"
  own+=("$(echo "$summary" | sed -n '/Target Performance Summary/,/Task Performance Summary/p' \
            | awk '$3 ~ /^(CompressModels|_ModelBuildPrepare|_ModelBuildCompress)$/ { sum += $1 } END { print sum + 0 }')")
  total+=("$(echo "$summary" | awk '/Time Elapsed/ { split($3, t, ":"); printf "%d", (t[1] * 3600 + t[2] * 60 + t[3]) * 1000 }')")
done
echo "ModelBuild targets in a no-op build (MSBuild's own accounting): median $(median "${own[@]}") ms of a $(median "${total[@]}") ms build"
